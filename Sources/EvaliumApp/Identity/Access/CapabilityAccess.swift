import EvaliumCore
import EvaliumStorage

/// A person allowed to do one thing, and the row-level security scope that thing may touch: only the
/// org units where one of their roles grants the capability.
struct CapabilityAccess: Sendable {
    var user: UserPrincipal
    var capability: Capability
    var scope: Scope

    var actor: LedgerActor { user.ledgerActor }
    var reach: CapabilityReach { user.capabilities.reach(of: capability) }

    /// Refuses, as a missing capability, a change to something owned by an org unit beyond reach (it may
    /// still be readable: shared authoring content is).
    func requireReach(_ orgUnit: OrgUnitID, toChange what: String) throws {
        guard reach.covers(orgUnit) else {
            throw Problem(.capabilityMissing, "your `\(capability.rawValue)` does not reach org unit \(orgUnit), which owns \(what)")
        }
    }

    /// Refuses what only a tenant-wide holder of the capability may do.
    func requireTenantWide(toChange what: String) throws {
        guard case .tenantWide = reach else {
            throw Problem(.capabilityMissing, "only a tenant-wide `\(capability.rawValue)` may change \(what)")
        }
    }

    /// The org unit something new belongs to: the one named (which must be within reach), else the only
    /// unit the capability reaches, else the tenant's root unit for a tenant-wide holder.
    func orgUnit(_ requested: OrgUnitID?, pointer: String, in transaction: Transaction) async throws -> OrgUnitID {
        if let requested {
            guard reach.covers(requested) else {
                throw Problem(.capabilityMissing, "your `\(capability.rawValue)` does not reach org unit \(requested)")
            }
            guard try await transaction.fetchOrgUnit(requested) != nil else {
                throw Problem(.validationFailed, "no such org unit", errors: [.init(pointer: pointer, detail: "no org unit \(requested)")])
            }
            return requested
        }
        switch reach {
        case .orgUnits(let units) where units.count == 1:
            return units.first!
        case .tenantWide:
            guard let root = try await transaction.fetchRootOrgUnit() else {
                throw Problem(.notFound, "the tenant has no root org unit")
            }
            return root.id
        default:
            throw Problem(.validationFailed, "say which org unit this belongs to", errors: [.init(pointer: pointer, detail: "required")])
        }
    }
}
