import EvaliumCore
import EvaliumStorage
import Foundation

/// Subject imports from CSV: a preview that writes nothing but itself, then a commit that applies every
/// row or none. The row rules are `SubjectImportPlan` (pure); this service looks up what they depend on.
struct SubjectImportService: Sendable {
    let database: Database
    /// How long a preview can be committed.
    var lifetime: TimeInterval = 24 * 3600

    /// Reads nothing but the database, writes nothing but the preview (and its ledger event).
    func preview(
        _ file: SubjectImportFile, orgUnitId: OrgUnitID?, access: CapabilityAccess, runner: some UnitOfWorkRunner
    ) async throws -> SubjectImport {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let orgUnit = try await access.orgUnit(orgUnitId, pointer: "orgUnitId", in: transaction)
            let context = try await Self.context(of: file, defaultOrgUnit: orgUnit, access: access, lockingForChange: false, in: transaction)
            let plan = SubjectImportPlan(file, context: context, now: now)
            let record = SubjectImport(
                id: .generate(at: now), orgUnitId: orgUnit, status: .previewed, createdBy: access.user.userId, createdAt: now,
                expiresAt: now.addingTimeInterval(lifetime), rows: plan.rows)
            try await transaction.insertSubjectImport(record, file: file)
            try await transaction.appendLedgerEvent(SubjectEvents.subjectImport("subjects.import.previewed", record, actor: access.actor))
            return record
        }
    }

    func read(_ id: SubjectImportID, access: CapabilityAccess) async throws -> SubjectImport {
        let found = try await database.transaction(access.scope) { try await $0.fetchSubjectImport(id)?.0 }
        var record = try found.orThrow(Self.notFound(id))
        record.status = record.status(at: ServerClock.now())
        return record
    }

    /// Applies a preview in one transaction: every row as previewed, or nothing. Refused with 422 while it
    /// has error rows, and with 409 when it was committed already, has expired, or when deciding its rows
    /// again now (with the subjects locked) gives anything but the preview: a subject changed meanwhile
    /// in a field the file sets, a new subject took an external ref, a person or an org unit went away.
    func commit(_ id: SubjectImportID, access: CapabilityAccess, runner: some UnitOfWorkRunner) async throws -> SubjectImport {
        let now = ServerClock.now()
        return try await runner.run(access.scope) { transaction in
            let stored = try await transaction.fetchSubjectImport(id, lockingForChange: true).orThrow(Self.notFound(id))
            var record = stored.0
            let file = stored.1
            switch record.status(at: now) {
            case .committed:
                throw Problem(.conflict, "import \(id) was committed at \(record.committedAt?.rfc3339 ?? "an earlier time")")
            case .expired:
                throw Problem(.conflict, "import \(id) expired at \(record.expiresAt.rfc3339); upload the file again for a new preview")
            case .previewed:
                break
            }
            let errorRows = record.rows.enumerated().filter { $0.element.action == .error }
            guard errorRows.isEmpty else {
                throw Problem(
                    .validationFailed,
                    "the preview has \(errorRows.count == 1 ? "1 row" : "\(errorRows.count) rows") with errors; correct the file and upload it again",
                    errors: errorRows.map { index, row in
                        .init(pointer: "/rows/\(index)", detail: "line \(row.line): " + (row.errors ?? []).map(\.detail).joined(separator: "; "))
                    })
            }
            let context = try await Self.context(
                of: file, defaultOrgUnit: record.orgUnitId, access: access, lockingForChange: true, in: transaction)
            let plan = SubjectImportPlan(file, context: context, now: now)
            let moved = zip(record.rows, plan.rows).enumerated().filter { $0.element.0 != $0.element.1 }
            guard moved.isEmpty else {
                throw Problem(
                    .conflict, "\(moved.count) rows no longer do what the preview says; upload the file again for a new preview",
                    errors: moved.map { index, pair in
                        .init(pointer: "/rows/\(index)", detail: "line \(pair.0.line): previewed as \(pair.0.action.rawValue), now "
                              + ([pair.1.action.rawValue] + (pair.1.errors ?? []).map(\.detail)).joined(separator: ": "))
                    })
            }
            try await apply(plan, of: record, access: access, at: now, in: transaction)
            try await transaction.markSubjectImportCommitted(id, by: access.user.userId, at: now)
            record.status = .committed
            record.committedBy = access.user.userId
            record.committedAt = now
            try await transaction.appendLedgerEvent(SubjectEvents.subjectImport("subjects.imported", record, actor: access.actor))
            return record
        }
    }

    private func apply(_ plan: SubjectImportPlan, of record: SubjectImport, access: CapabilityAccess, at now: Date, in transaction: Transaction) async throws {
        let created = plan.writes.compactMap { write -> Subject? in
            if case .create(let subject) = write { return subject }
            return nil
        }
        try await SubjectService.insert(created, in: transaction)
        for write in plan.writes {
            switch write {
            case .create(let subject):
                try await transaction.appendLedgerEvent(SubjectEvents.created(subject, actor: access.actor, importId: record.id))
            case .update(let before, var after):
                after.updatedAt = now
                try await transaction.updateSubject(after)
                try await transaction.appendLedgerEvent(SubjectEvents.updated(before, after, actor: access.actor, importId: record.id))
            }
        }
    }

    /// What the rows of `file` depend on, looked up in a handful of queries; `lockingForChange` holds the
    /// matched subjects until the transaction ends.
    private static func context(
        of file: SubjectImportFile, defaultOrgUnit: OrgUnitID, access: CapabilityAccess, lockingForChange: Bool, in transaction: Transaction
    ) async throws -> SubjectImportContext {
        let refs = Set(file.rows.compactMap(\.externalRef).filter { !$0.isEmpty }).sorted()
        let emails = Set(file.rows.compactMap { row in row.userEmail.flatMap { try? EmailAddress.validate($0, pointer: "").get().normalized } })
        let people = try await transaction.userIds(emails: emails.sorted())
        let personIds = Set(people.values).sorted { $0.rawValue < $1.rawValue }
        let existing = try await transaction.fetchSubjects(externalRefs: refs, lockingForChange: lockingForChange)
        let inUse = try await transaction.subjectKeysInUse(externalRefs: refs, users: personIds)
        let links = try await transaction.subjectIds(ofUsers: personIds)
        let orgUnits = try await transaction.visibleOrgUnits(Set(file.rows.compactMap { $0.orgUnitId.flatMap(OrgUnitID.init) }).sorted {
            $0.rawValue < $1.rawValue
        })
        return SubjectImportContext(
            tenantId: access.user.tenantId, reach: access.reach, defaultOrgUnit: defaultOrgUnit, existing: existing,
            refsInUse: inUse.externalRefs, people: people,
            peopleWithSubjects: Dictionary(uniqueKeysWithValues: inUse.users.map { ($0, links[$0]) }), orgUnits: orgUnits)
    }

    private static func notFound(_ id: SubjectImportID) -> Problem { Problem(.notFound, "no subject import \(id) in your reach") }
}
