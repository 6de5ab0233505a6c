import EvaliumCore
import Foundation
import NIOHTTP1

/// A tenant ready for the load: its administrator (who also does the operators' work) and a reviewer,
/// signed in; a 30-item observation template under four-eyes review and a 20-question quiz, published;
/// and subjects to inspect.
struct SeededTenant: Sendable {
    var number: Int
    var tenantId: String
    var adminId: String
    var adminToken: String
    var reviewerToken: String
    var observation: String
    var quiz: String
    var subjects: [String]
}

struct Seeder {
    let api: API
    let platformToken: String
    let mailDir: String

    static let reviewerRole = "rol_" + String(repeating: "0", count: 25) + "5"

    func tenant(number: Int, subjects count: Int) async throws -> SeededTenant {
        let adminEmail = "admin-\(number)-\(ULID().text.lowercased())@bench.evalium.test"
        let created = try await api.send(
            .POST, "/v1/tenants", route: "/v1/tenants", json: #"{"name":"Bench tenant \#(number)","adminEmail":"\#(adminEmail)"}"#,
            token: platformToken).body
        guard let tenantId = created["tenant"]?["id"]?.stringValue else { throw SeedFailed("no tenant in \(created)") }
        let admin = try await signIn(tenantId: tenantId, email: adminEmail)
        let reviewerEmail = "reviewer-\(number)-\(ULID().text.lowercased())@bench.evalium.test"
        _ = try await api.send(
            .POST, "/v1/users", route: "/v1/users",
            json: #"{"email":"\#(reviewerEmail)","displayName":"Reviewer","roles":[{"roleId":"\#(Self.reviewerRole)"}]}"#, token: admin.token)
        _ = try await api.send(
            .POST, "/v1/auth/magic-links", route: "/v1/auth/magic-links", json: #"{"tenantId":"\#(tenantId)","email":"\#(reviewerEmail)"}"#,
            token: admin.token)
        let reviewer = try await signIn(tenantId: tenantId, email: reviewerEmail, alreadyRequested: true)

        var checks: [String] = []
        for index in 0..<30 {
            checks.append(try await question(
                #"{"kind":"rubric","content":{"prompt":"Check \#(index + 1) holds","options":[{"id":"pass","label":"Pass","points":1},{"id":"fail","label":"Fail","points":0,"finding":true,"severity":"major","requiresComment":true}]}}"#,
                token: admin.token))
        }
        let observation = try await evaluation(kind: "observation", questions: checks, extra: #","reviewPolicy":"four_eyes""#, token: admin.token)
        var questions: [String] = []
        for index in 0..<20 {
            questions.append(try await question(
                #"{"kind":"single_choice","content":{"prompt":"Question \#(index + 1)","points":1,"options":[{"id":"a","label":"A"},{"id":"b","label":"B"}],"answerKey":{"correctOptionIds":["b"]}}}"#,
                token: admin.token))
        }
        let quiz = try await evaluation(kind: "knowledge", questions: questions, extra: #","grading":{"passThreshold":0.5}"#, token: admin.token)

        var csv = "external_ref,type,display_name,asset_type\r\n"
        for index in 0..<count { csv += "EXT-\(index),asset,Extinguisher \(index),fire_extinguisher\r\n" }
        let preview = try await api.send(.POST, "/v1/subject-imports", route: "/v1/subject-imports", json: csv, contentType: "text/csv", token: admin.token)
        guard let importId = preview.body["id"]?.stringValue else { throw SeedFailed("no import in \(preview.body)") }
        _ = try await api.send(.POST, "/v1/subject-imports/\(importId)/commit", route: "/v1/subject-imports/{id}/commit", token: admin.token)
        var subjects: [String] = []
        var after = ""
        repeat {
            let page = try await api.send(.GET, "/v1/subjects?limit=200\(after)", route: "/v1/subjects", token: admin.token).body
            let ids = (page["items"]?.elements ?? []).compactMap { $0["id"]?.stringValue }
            subjects += ids
            guard let next = page["nextCursor"]?.stringValue, !ids.isEmpty else { break }
            after = "&after=\(next)"
        } while true
        return SeededTenant(
            number: number, tenantId: tenantId, adminId: admin.userId, adminToken: admin.token, reviewerToken: reviewer.token, observation: observation, quiz: quiz,
            subjects: subjects)
    }

    private func question(_ json: String, token: String) async throws -> String {
        let created = try await api.send(.POST, "/v1/questions", route: "/v1/questions", json: json, token: token).body
        guard let id = created["question"]?["id"]?.stringValue else { throw SeedFailed("no question in \(created)") }
        return id
    }

    private func evaluation(kind: String, questions: [String], extra: String, token: String) async throws -> String {
        let items = questions.map { #"{"questionId":"\#($0)"}"# }.joined(separator: ",")
        let created = try await api.send(
            .POST, "/v1/evaluations", route: "/v1/evaluations",
            json: #"{"kind":"\#(kind)","definition":{"title":"Bench \#(kind)","sections":[{"title":"Checks","items":[\#(items)]}]\#(extra)}}"#,
            token: token).body
        guard let id = created["evaluation"]?["id"]?.stringValue else { throw SeedFailed("no evaluation in \(created)") }
        _ = try await api.send(.POST, "/v1/evaluations/\(id)/versions/1/publish", route: "/v1/evaluations/{id}/versions/{n}/publish", token: token)
        return id
    }

    /// Asks for a sign-in link (unless one was asked for), reads it from the mail folder, and consumes it.
    private func signIn(tenantId: String, email: String, alreadyRequested: Bool = false) async throws -> (userId: String, token: String) {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: mailDir)) ?? []
            for file in files.sorted().reversed() where file.hasSuffix(".eml") {
                guard let text = try? String(contentsOfFile: mailDir + "/" + file, encoding: .utf8), text.contains(email),
                      let range = text.range(of: "token=") else { continue }
                let token = String(text[range.upperBound...].prefix(43))
                let signedIn = try await api.send(
                    .POST, "/v1/auth/magic-links/consume", route: "/v1/auth/magic-links/consume",
                    json: #"{"tenantId":"\#(tenantId)","token":"\#(token)"}"#, token: "").body
                guard let access = signedIn["accessToken"]?.stringValue, let user = signedIn["user"]?["id"]?.stringValue
                        ?? signedIn["userId"]?.stringValue else { throw SeedFailed("no token in \(signedIn)") }
                return (user, access)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw SeedFailed("no sign-in mail for \(email) in \(mailDir)")
    }
}

struct SeedFailed: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
