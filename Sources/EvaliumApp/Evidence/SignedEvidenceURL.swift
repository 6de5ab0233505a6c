import Crypto
import EvaliumCore
import Foundation
import Hummingbird

/// Short-lived, signed addresses for putting an asset's bytes into the folder store and reading them back:
/// the signature (HMAC-SHA256 over the action, the asset and the expiry) is the credential, so a client can
/// hand the URL to an uploader or a browser without its bearer token.
struct SignedEvidenceURL: Sendable {
    enum Action: String, Sendable {
        case upload, download
    }

    let key: SymmetricKey
    let publicURL: String

    init(keys: SigningKeys, publicURL: String) {
        key = keys.derivedKey(for: "evalium evidence urls")
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
    }

    /// Who the address was issued to: the tenant it opens and the person its use is recorded for.
    struct Grant: Sendable {
        var tenantId: TenantID
        var userId: UserID

        var actor: LedgerActor { LedgerActor(kind: .user, id: userId.rawValue) }
    }

    static func path(_ action: Action, _ asset: AssetID) -> String {
        action == .upload ? "/v1/uploads/\(asset)" : "/v1/downloads/\(asset)"
    }

    func url(_ action: Action, _ asset: MediaAsset, by person: UserID, expiresAt: Date) -> String {
        let expires = Int(expiresAt.timeIntervalSince1970)
        let signature = signature(action, asset.id, Grant(tenantId: asset.tenantId, userId: person), expires: expires)
        return "\(publicURL)\(Self.path(action, asset.id))?tenant=\(asset.tenantId)&by=\(person)&expires=\(expires)&signature=\(signature)"
    }

    /// The grant of a request's signed address; refused when the signature is missing, altered, for another
    /// asset, action, tenant or person, or expired.
    func verify(_ action: Action, _ asset: AssetID, request: Request, now: Date) throws -> Grant {
        let query = request.uri.queryParameters
        guard let expires = query.get("expires").flatMap({ Int($0) }), let signed = query.get("signature"),
              let tenant = query.get("tenant").flatMap({ TenantID(String($0)) }), let person = query.get("by").flatMap({ UserID(String($0)) })
        else {
            throw Problem(.forbidden, "this \(action.rawValue) address is not signed; ask for a new one")
        }
        let grant = Grant(tenantId: tenant, userId: person)
        let presented = Array(String(signed).utf8)
        let expected = Array(signature(action, asset, grant, expires: expires).utf8)
        var difference: UInt8 = 0
        for (left, right) in zip(presented, expected) { difference |= left ^ right }
        guard presented.count == expected.count, difference == 0 else {
            throw Problem(.forbidden, "this \(action.rawValue) address's signature does not match; ask for a new one")
        }
        guard now.timeIntervalSince1970 < Double(expires) else {
            throw Problem(.forbidden, "this \(action.rawValue) address expired; ask for a new one")
        }
        return grant
    }

    private func signature(_ action: Action, _ asset: AssetID, _ grant: Grant, expires: Int) -> String {
        let message = Array("\(action.rawValue)\n\(grant.tenantId)\n\(grant.userId)\n\(asset.rawValue)\n\(expires)".utf8)
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: key)).hexString
    }
}
