@testable import EvaliumApp
import EvaliumCore
@testable import EvaliumStorage
import Foundation
import PostgresNIO
import Testing

@Suite("Row-level security: tenants and org units are isolated by PostgreSQL itself", .timeLimit(.minutes(2)))
struct RowLevelSecurityTests {
    @Test("a query written without any tenant filter returns only the current tenant's rows")
    func unfilteredQuerySeesOnlyCurrentTenant() async throws {
        try await TestEnvironment.withDatabase { database in
            let mine = try await TestEnvironment.makeTenant(database)
            let theirs = try await TestEnvironment.makeTenant(database)
            let units = try await database.transaction(.tenantWide(mine.tenant.id)) { try await $0.listOrgUnits() }
            #expect(!units.isEmpty)
            #expect(units.allSatisfy { $0.tenantId == mine.tenant.id })
            #expect(!units.contains { $0.id == theirs.rootOrgUnit.id })
            let entries = try await database.transaction(.tenantWide(mine.tenant.id)) { try await $0.listLedgerEntries(limit: 500) }
            #expect(entries.allSatisfy { $0.event.tenantId == mine.tenant.id })
        }
    }

    @Test("an insert carrying another tenant's id is refused by the policy")
    func insertForAnotherTenantIsRefused() async throws {
        try await TestEnvironment.withDatabase { database in
            let mine = try await TestEnvironment.makeTenant(database)
            let theirs = try await TestEnvironment.makeTenant(database)
            let intruder = OrgUnit(
                id: .generate(), tenantId: theirs.tenant.id, parentId: theirs.rootOrgUnit.id, name: "planted",
                isRoot: false, createdAt: ServerClock.now())
            await #expect(throws: StorageError.self) {
                try await database.transaction(.tenantWide(mine.tenant.id)) { try await $0.insertOrgUnit(intruder) }
            }
            let theirUnits = try await database.transaction(.tenantWide(theirs.tenant.id)) { try await $0.listOrgUnits() }
            #expect(!theirUnits.contains { $0.id == intruder.id })
        }
    }

    @Test("with no scope set, nothing is visible")
    func noScopeSeesNothing() async throws {
        try await TestEnvironment.withDatabase { database in
            let tenant = try await TestEnvironment.makeTenant(database)
            let units = try await database.transaction(.none) { try await $0.listOrgUnits() }
            #expect(units.isEmpty)
            let fetched = try await database.transaction(.none) { try await $0.fetchTenant(tenant.tenant.id) }
            #expect(fetched == nil)
            for table in Self.scopedTables {
                // Built-in roles belong to no tenant and are readable by all; tenant rows are not.
                let filter = table == "roles" ? " WHERE tenant_id IS NOT NULL" : ""
                let rows = try await TestEnvironment.sql("SELECT count(*)::text FROM \(table)\(filter)", as: TestEnvironment.application)
                #expect(rows == [["0"]], "\(table) must show nothing without a scope")
            }
        }
    }

    static let scopedTables = [
        "tenants", "org_units", "ledger_events", "ledger_seals", "ledger_seal_queue", "idempotency_keys", "users", "groups",
        "group_members", "roles", "role_grants", "magic_links", "auth_sessions", "refresh_tokens", "totp_authenticators", "portal_links",
        "taxonomies", "tags", "questions", "question_versions", "evaluations", "evaluation_versions", "evaluation_version_items",
        "subjects", "subject_users", "assets", "subject_imports", "frozen_contents", "assignments", "assignment_subjects", "delivery_sessions",
        "delivery_session_events", "submissions", "submission_items", "submission_subjects", "submission_grades",
        "submission_amendments", "submission_voids", "media_assets", "submission_item_assets", "evidence_decisions",
        "reporting.submission_facts", "reporting.findings", "reporting.item_results", "reporting.checkpoints",
        "outbox", "inbound_events", "event_dispatch_queue", "event_inbox", "event_delivery_failures", "event_dead_letters",
        "evaluation_block_links",
    ]

    @Test("every scoped table hides another tenant's rows from raw SQL", arguments: scopedTables)
    func crossTenantRawSQL(table: String) async throws {
        try await TestEnvironment.withDatabase { database in
            let mine = try await TestEnvironment.makeTenant(database)
            let theirs = try await TestEnvironment.makeTenant(database)
            try await Self.giveIdentityRows(to: theirs, database)
            let evaluation = try await Self.giveAuthoringRows(to: theirs, database)
            let subject = try await Self.giveSubjectRows(to: theirs, database)
            try await Self.giveDeliveryRows(to: theirs, evaluation: evaluation, subject: subject, database)
            try await Self.giveEventRows(to: theirs, evaluation: evaluation, database)
            // Give the other tenant a row in every table, idempotency keys included.
            try await database.transaction(Scope(tenantId: theirs.tenant.id)) { transaction in
                let claim = IdempotencyClaim(
                    tenantId: theirs.tenant.id, callerId: "usr_someone", key: IdempotencyKey("k-\(ULID().text)")!,
                    fingerprint: RequestFingerprint(bytes: [1]))
                _ = try await transaction.claimIdempotencyKey(claim)
                try await transaction.completeIdempotencyClaim(
                    claim, response: StoredResponse(status: 201, contentType: nil, location: nil, body: []), retention: .seconds(60))
            }
            _ = try await database.sealPendingLedgerEvents()
            try await database.transaction(.tenantWide(theirs.tenant.id)) { transaction in
                try await transaction.appendLedgerEvent(
                    LedgerEventDraft(eventType: "test.recorded", aggregateType: "test", aggregateId: "queued", orgUnitId: nil,
                                     actor: .platformOperator, payload: [:]))
            }
            let column = table == "tenants" ? "id" : "tenant_id"
            let theirRows = try await TestEnvironment.sql(
                "SELECT count(*)::text FROM \(table) WHERE \(column) = '\(theirs.tenant.id)'", as: TestEnvironment.superuser)
            // Queue rows may already be taken by the sealer or the event dispatcher of a concurrently running test server.
            #expect(
                theirRows != [["0"]] || ["ledger_seal_queue", "event_dispatch_queue"].contains(table),
                "the other tenant must have rows for this test to mean anything")
            let rows = try await TestEnvironment.sql(
                "BEGIN",
                "SELECT set_config('app.tenant_id', '\(mine.tenant.id)', true), set_config('app.org_scope_all', 'true', true)",
                "SELECT count(*)::text FROM \(table) WHERE \(column) = '\(theirs.tenant.id)'",
                as: TestEnvironment.application)
            #expect(rows == [["0"]])
        }
    }

    @Test("a principal scoped to one org unit cannot read another's rows unless org_scope_all")
    func orgUnitSilos() async throws {
        try await TestEnvironment.withDatabase { database in
            let tenant = try await TestEnvironment.makeTenant(database)
            let service = TenantService()
            let north = try await service.createOrgUnit(
                tenantId: tenant.tenant.id, name: "North", parentId: nil, actor: .platformOperator, runner: database)
            let south = try await service.createOrgUnit(
                tenantId: tenant.tenant.id, name: "South", parentId: nil, actor: .platformOperator, runner: database)

            let northScope = Scope(tenantId: tenant.tenant.id, orgUnitId: north.id, orgScopeAll: false)
            let visibleUnits = try await database.transaction(northScope) { try await $0.listOrgUnits() }
            #expect(visibleUnits.map(\.id) == [north.id])
            let visibleEvents = try await database.transaction(northScope) { try await $0.listLedgerEntries(limit: 500) }
            #expect(!visibleEvents.isEmpty)
            #expect(visibleEvents.allSatisfy { $0.event.draft.orgUnitId == north.id })

            let southEvent = LedgerEventDraft(
                eventType: "test.recorded", aggregateType: "test", aggregateId: "south-only", orgUnitId: south.id,
                actor: .platformOperator, payload: [:])
            await #expect(throws: StorageError.self) {
                try await database.transaction(northScope) { try await $0.appendLedgerEvent(southEvent) }
            }

            let everything = try await database.transaction(.tenantWide(tenant.tenant.id)) { try await $0.listOrgUnits() }
            #expect(Set(everything.map(\.id)).isSuperset(of: [north.id, south.id, tenant.rootOrgUnit.id]))
        }
    }

    @Test("scoped statements outside a transaction write and read only in their scope, and the scope ends with each statement")
    func scopedStatementsKeepTheirScope() async throws {
        // One connection, so the raw query below runs where the scoped statements ran.
        let database = Database(endpoint: TestEnvironment.application, maximumConnections: 1, logger: TestEnvironment.logger)
        try await database.whileRunning {
            let mine = try await TestEnvironment.makeTenant(database)
            let theirs = try await TestEnvironment.makeTenant(database)
            let aggregateId = "scoped-\(ULID().text)"
            try await database.scopedStatements(.tenantWide(mine.tenant.id)) { statements in
                try await statements.appendLedgerEvents([
                    LedgerEventDraft(eventType: "test.recorded", aggregateType: "test", aggregateId: aggregateId, orgUnitId: nil,
                                     actor: .platformOperator, payload: [:])
                ])
            }
            let leftover = try await database.client.withConnection { connection in
                var settings: [String] = []
                for try await setting in try await connection.query(
                    "SELECT coalesce(current_setting('app.tenant_id', true), '') || coalesce(current_setting('app.org_scope_all', true), '')",
                    logger: TestEnvironment.logger
                ).decode(String.self) {
                    settings.append(setting)
                }
                return settings
            }
            #expect(leftover == [""], "no setting outlives its statement")
            func recorded(in tenant: TenantID) async throws -> Int {
                try await database.transaction(.tenantWide(tenant)) {
                    try await $0.listLedgerEntries(aggregateType: "test", aggregateId: aggregateId, limit: 10).count
                }
            }
            #expect(try await recorded(in: mine.tenant.id) == 1)
            #expect(try await recorded(in: theirs.tenant.id) == 0)
            let unseen = try await database.scopedStatements(.tenantWide(theirs.tenant.id)) { statements in
                try await statements.fetchSubject(SubjectID.generate())
            }
            #expect(unseen == nil)
        }
    }

    @Test("the server refuses a role that could bypass row-level security, and accepts the application role")
    func applicationRoleIsChecked() async throws {
        try await TestEnvironment.withDatabase { database in try await database.checkApplicationRole() }
        let owner = Database(endpoint: TestEnvironment.owner, maximumConnections: 1, logger: TestEnvironment.logger)
        await #expect(throws: StorageError.self) {
            try await owner.whileRunning { try await owner.checkApplicationRole() }
        }
    }

    @Test("a failed unit of work leaves neither its rows nor its ledger event behind")
    func failedUnitOfWorkLeavesNothing() async throws {
        struct InjectedFailure: Error {}
        try await TestEnvironment.withDatabase { database in
            let tenant = try await TestEnvironment.makeTenant(database)
            let unit = OrgUnit(
                id: .generate(), tenantId: tenant.tenant.id, parentId: tenant.rootOrgUnit.id, name: "doomed", isRoot: false,
                createdAt: ServerClock.now())
            await #expect(throws: InjectedFailure.self) {
                try await database.transaction(.tenantWide(tenant.tenant.id)) { transaction in
                    try await transaction.insertOrgUnit(unit)
                    try await transaction.appendLedgerEvent(
                        LedgerEventDraft(
                            eventType: .orgUnitCreated, aggregateType: "org_unit", aggregateId: unit.id.rawValue,
                            orgUnitId: unit.id, actor: .platformOperator, payload: [:]))
                    throw InjectedFailure()
                }
            }
            let units = try await database.transaction(.tenantWide(tenant.tenant.id)) { try await $0.listOrgUnits() }
            #expect(!units.contains { $0.id == unit.id })
            let events = try await database.transaction(.tenantWide(tenant.tenant.id)) {
                try await $0.listLedgerEntries(aggregateType: "org_unit", aggregateId: unit.id.rawValue, limit: 10)
            }
            #expect(events.isEmpty)
        }
    }

    /// One row of every identity table for `tenant`, written through the storage layer.
    static func giveIdentityRows(to tenant: TenantService.CreatedTenant, _ database: Database) async throws {
        let now = ServerClock.now()
        try await database.transaction(.tenantWide(tenant.tenant.id)) { transaction in
            let user = User(
                id: .generate(), tenantId: tenant.tenant.id, email: EmailAddress(stored: TestEnvironment.email()), displayName: "Victim",
                status: .active, homeOrgUnitId: tenant.rootOrgUnit.id, createdAt: now, updatedAt: now)
            try await transaction.insertUser(user)
            let group = Group(
                id: .generate(), tenantId: tenant.tenant.id, orgUnitId: tenant.rootOrgUnit.id, name: "Group", status: .active,
                memberCount: 0, createdAt: now, updatedAt: now)
            try await transaction.insertGroup(group)
            _ = try await transaction.addGroupMember(group, user: user.id, at: now)
            let role = Role(id: .generate(), tenantId: tenant.tenant.id, builtIn: false, name: "Custom", capabilities: [.reportingRead], version: 1)
            try await transaction.insertRole(role, at: now)
            try await transaction.insertRoleGrant(
                RoleGrant(id: .generate(), roleId: role.id, grantee: .user(user.id), orgUnitId: nil, grantedAt: now),
                tenantId: tenant.tenant.id, grantedBy: "test")
            try await transaction.insertMagicLink(tokenHash: SecretToken.generate().hash, user: user, createdAt: now, expiresAt: now + 60)
            let session = AuthSession(
                id: .generate(), tenantId: tenant.tenant.id, userId: user.id, homeOrgUnitId: user.homeOrgUnitId, methods: [.email],
                authenticatedAt: now, expiresAt: now + 60, revokedAt: nil)
            try await transaction.insertSession(session)
            try await transaction.insertRefreshToken(tokenHash: SecretToken.generate().hash, session: session, issuedAt: now, expiresAt: now + 60)
            _ = try await transaction.beginTOTPEnrolment(user: user, sealedSecret: [1, 2, 3], at: now)
            try await transaction.insertPortalLink(
                PortalLink(
                    id: .generate(), tenantId: tenant.tenant.id, orgUnitId: tenant.rootOrgUnit.id,
                    scope: PortalScope(kind: .submission, id: "s"), recipientEmail: nil, label: nil, createdAt: now, createdBy: "test",
                    expiresAt: now + 60, revokedAt: nil, lastUsedAt: nil, useCount: 0),
                tokenHash: SecretToken.generate().hash)
        }
    }

    /// One row of every authoring table for `tenant`, shared with every org unit, written through the storage layer.
    /// Returns the evaluation (its version 1 is a draft).
    @discardableResult
    static func giveAuthoringRows(to tenant: TenantService.CreatedTenant, _ database: Database) async throws -> EvaluationID {
        let now = ServerClock.now()
        let author = UserID.generate()
        return try await database.transaction(.tenantWide(tenant.tenant.id)) { transaction in
            let taxonomy = Taxonomy(
                id: .generate(), tenantId: tenant.tenant.id, key: "topic", name: LocalizedText("Topic"), description: nil, status: .active,
                tags: [], createdAt: now, updatedAt: now)
            try await transaction.insertTaxonomy(taxonomy)
            try await transaction.insertTag(
                Tag(id: .generate(), taxonomyId: taxonomy.id, key: "fire", label: LocalizedText("Fire"), status: .active, createdAt: now, updatedAt: now),
                tenantId: tenant.tenant.id)
            let question = Question(
                id: .generate(), tenantId: tenant.tenant.id, orgUnitId: tenant.rootOrgUnit.id, kind: .trueFalse, shared: true, status: .active,
                latestVersion: 1, publishedVersion: nil, createdBy: author, createdAt: now, updatedAt: now)
            try await transaction.insertQuestion(question)
            let history = VersionHistory(createdBy: author, createdAt: now, updatedAt: now)
            try await transaction.insertQuestionVersion(
                QuestionVersion(
                    questionId: question.id, version: 1, kind: .trueFalse, status: .draft, content: QuestionContent(), tags: [],
                    contentHash: String(repeating: "0", count: 64), history: history),
                of: question)
            let evaluation = Evaluation(
                id: .generate(), tenantId: tenant.tenant.id, orgUnitId: tenant.rootOrgUnit.id, kind: .knowledge, shared: true, status: .active,
                activeVersion: nil, latestVersion: 1, title: nil, createdBy: author, createdAt: now, updatedAt: now)
            try await transaction.insertEvaluation(evaluation)
            let definition = EvaluationDefinition(sections: [EvaluationSection(id: .generate(), items: [
                EvaluationItem(id: .generate(), questionId: question.id, version: 1),
            ])])
            try await transaction.insertEvaluationVersion(
                EvaluationVersion(
                    evaluationId: evaluation.id, version: 1, kind: .knowledge, status: .draft, definition: definition,
                    contentHash: String(repeating: "0", count: 64), history: history),
                of: evaluation)
            return evaluation.id
        }
    }

    /// One row of every subject table for `tenant` (a person subject, an asset, a preview), written through the storage layer.
    /// Returns the asset subject.
    @discardableResult
    static func giveSubjectRows(to tenant: TenantService.CreatedTenant, _ database: Database) async throws -> SubjectID {
        let now = ServerClock.now()
        let unit = tenant.rootOrgUnit.id
        let asset = SubjectID.generate()
        return try await database.transaction(.tenantWide(tenant.tenant.id)) { transaction in
            let user = User(
                id: .generate(), tenantId: tenant.tenant.id, email: EmailAddress(stored: TestEnvironment.email()), displayName: "Subject",
                status: .active, homeOrgUnitId: unit, createdAt: now, updatedAt: now)
            try await transaction.insertUser(user)
            try await transaction.insertSubjects([
                Subject(
                    id: .generate(), tenantId: tenant.tenant.id, orgUnitId: unit, type: .user, displayName: "Person", externalRef: "P-1",
                    status: .active, tags: [], userId: user.id, asset: nil, createdAt: now, updatedAt: now),
                Subject(
                    id: asset, tenantId: tenant.tenant.id, orgUnitId: unit, type: .asset, displayName: "Extinguisher", externalRef: "EXT-1",
                    status: .active, tags: ["red"], userId: nil, asset: AssetDetails(assetType: "extinguisher", identifiers: ["serialNumber": "SN-1"]),
                    createdAt: now, updatedAt: now),
            ])
            try await transaction.insertSubjectImport(
                SubjectImport(
                    id: .generate(), orgUnitId: unit, status: .previewed, createdBy: user.id, createdAt: now, expiresAt: now + 60, rows: []),
                file: SubjectImportFile(columns: ["external_ref"], rows: []))
            return asset
        }
    }

    /// One row of every execution table for `tenant`: an assignment of `evaluation` about `subject`, a
    /// session with telemetry and an answer, its submission and a grade, written through the storage layer.
    /// A published event, a received one, and a listener's inbox entry, failure and dead letter for them.
    static func giveEventRows(to tenant: TenantService.CreatedTenant, evaluation: EvaluationID, _ database: Database) async throws {
        let now = ServerClock.now()
        func envelope(_ subject: EventSubject, _ payload: JSONValue) -> EventEnvelope {
            EventEnvelope(eventId: EventID.generate().rawValue, subject: subject, tenantId: tenant.tenant.id, partitionKey: "p", occurredAt: now, payload: payload)
        }
        let listener = (name: "rls-test", subjects: ["assessment.", "tenant."])
        try await database.transaction(.tenantWide(tenant.tenant.id)) { transaction in
            // Only what a named listener wants is queued.
            try await transaction.registerEventConsumers([listener], freshness: .zero)
            try await transaction.publish(OutboxEvent(envelope: envelope("assessment.test.recorded.v1", [:]), orgUnitId: nil))
            let received = envelope("tenant.offboarded.v1", ["tenantId": .string(tenant.tenant.id.rawValue)])
            _ = try await transaction.receive(received, bytes: try received.wireBytes())
            let pending = try await transaction.pendingEvents(for: [listener], limit: 10)
            try await transaction.recordHandled(consumer: "rls-test", eventId: pending[0].eventId)
            try await transaction.recordDeliveryFailure(consumer: "rls-test", event: pending[1], attempts: 1, nextAttemptAt: now, error: "test")
            try await transaction.recordDeadLetter(consumer: "rls-dead", event: pending[1], attempts: 6, error: "test")
            _ = try await transaction.linkBlock("block-1", kind: "quiz", to: evaluation, eventId: received.eventId, at: now)
        }
    }

    static func giveDeliveryRows(
        to tenant: TenantService.CreatedTenant, evaluation: EvaluationID, subject: SubjectID, _ database: Database
    ) async throws {
        let now = ServerClock.now()
        let unit = tenant.rootOrgUnit.id
        try await database.transaction(.tenantWide(tenant.tenant.id)) { transaction in
            let person = User(
                id: .generate(), tenantId: tenant.tenant.id, email: EmailAddress(stored: TestEnvironment.email()), displayName: "Operator",
                status: .active, homeOrgUnitId: unit, createdAt: now, updatedAt: now)
            try await transaction.insertUser(person)
            let version = try #require(try await transaction.fetchEvaluationVersion(evaluation, version: 1))
            let content = AssignmentContent(evaluation: version, questions: [])
            let policy = try EffectivePolicy.resolve(
                evaluation: version.definition.normalized(kind: .knowledge, now: now), overrides: AssignmentOverrides(), availableFrom: nil,
                availableUntil: nil
            ).get()
            let assignment = Assignment(
                id: .generate(), tenantId: tenant.tenant.id, orgUnitId: unit, evaluationId: evaluation, evaluationVersion: 1, kind: .knowledge,
                target: AssignmentTarget(userId: person.id), status: .active, cohort: nil, batchId: nil,
                subjects: [AssignedSubject(subjectId: subject, role: .primary)], overrides: AssignmentOverrides(), policy: policy,
                createdBy: person.id, createdAt: now, withdrawnAt: nil)
            let frozen = try await transaction.insertAssignment(assignment, content: content)
            let session = DeliverySession(
                id: .generate(), tenantId: tenant.tenant.id, orgUnitId: unit, assignmentId: assignment.id, operatorId: person.id,
                attemptNumber: 1, status: .active, mode: .online, startedAt: now, expiresAt: nil, currentItemId: nil, submissionId: nil,
                submittedAt: nil)
            try await transaction.insertSession(session)
            try await transaction.insertSessionEvent(session, type: "navigation", payload: [:], clientTimestamp: nil, at: now)
            let item = ItemID.generate()
            try await transaction.saveResponse(
                RecordedResponse(
                    itemId: item, questionId: .generate(), answer: Answer(value: true), comment: nil, complete: true, missing: [],
                    clientTimestamp: nil, context: nil, recordedAt: now),
                in: session, by: person.id)
            let result = Scoring.score(items: [], answers: [:], grades: [:], rule: nil)
            let submission = Submission(
                id: .generate(), tenantId: tenant.tenant.id, orgUnitId: unit, sessionId: session.id, assignmentId: assignment.id,
                evaluationId: evaluation, evaluationVersion: 1, kind: .knowledge, operatorId: person.id, batchId: nil, cohort: nil,
                lifecycleStatus: .completed, outcome: result.outcome, approvalStatus: .approved, result: result,
                snapshotHash: String(repeating: "0", count: 64), subjects: assignment.subjects, context: nil, startedAt: now, submittedAt: now)
            try await transaction.finalise(
                submission,
                snapshot: VersionSnapshot(
                    content: content, policy: policy, orgUnitId: unit,
                    assignment: .init(assignmentId: assignment.id, cohort: nil, batchId: nil)),
                contentHash: frozen.hash)
            try await transaction.insertGrade(HumanGrade(pointsEarned: 0, gradedBy: person.id), item: item, note: nil, of: submission, at: now)
            try await transaction.insertAmendment(
                Amendment(
                    id: .generate(), submissionId: submission.id, sequence: 1, reason: "typo",
                    changes: [ItemCorrection(itemId: item, answer: Answer(value: false))], amendedBy: person.id, amendedAt: now),
                of: submission)
            try await transaction.insertVoid(
                SubmissionVoid(submissionId: submission.id, reason: "wrong site", voidedBy: person.id, voidedAt: now, stepUp: nil), of: submission)
            let asset = MediaAsset(
                id: .generate(), tenantId: tenant.tenant.id, orgUnitId: unit, ownerUserId: person.id, status: .verified,
                declaration: AssetDeclaration(contentType: "image/jpeg", byteSize: 1, sha256: String(repeating: "a", count: 64)),
                storageKey: "sha256/aa/aa/" + String(repeating: "a", count: 64), storageTier: .hot, receivedBytes: 1, failureReason: nil,
                createdAt: now, verifiedAt: now)
            try await transaction.insertAsset(asset)
            try await transaction.insertAttachment(
                Attachment(
                    assetId: asset.id, sessionId: session.id, itemId: item, role: .primary, attachedBy: person.id, attachedAt: now,
                    contentType: asset.contentType, byteSize: 1, sha256: asset.sha256),
                tenant: tenant.tenant.id, orgUnit: unit)
            try await transaction.insertEvidenceDecision(.approved, of: asset, note: nil, by: person.id, at: now)

            var projection = ReportingProjection.project(
                submission, VersionSnapshot(content: content, policy: policy, orgUnitId: unit, assignment: .init(assignmentId: assignment.id, cohort: nil, batchId: nil)),
                result: result, answeredAt: [:], amendmentCount: 1, voided: true, evidenceCount: 1, detections: [])
            projection.findings = [
                FindingFact(
                    submissionId: submission.id, itemId: item, orgUnitId: unit, questionId: .generate(), optionId: "fail", severity: .major,
                    subjectIds: [subject], batchId: nil, ledgerEventId: .generate(), detectedAt: now, voided: true)
            ]
            projection.items = [
                ItemResultFact(
                    submissionId: submission.id, itemId: item, orgUnitId: unit, evaluationId: evaluation, evaluationVersion: 1,
                    questionId: .generate(), questionVersion: 1, correct: .correct, pointsEarned: 1, pointsPossible: 1, secondsSpent: 4, voided: true)
            ]
            try await transaction.replaceProjections([projection], tenant: tenant.tenant.id)
            try await transaction.saveReportingCheckpoint(1)
        }
    }

    @Test("a person scoped to one org unit sees that unit's people, groups and grants only")
    func identityOrgSilos() async throws {
        try await TestEnvironment.withDatabase { database in
            let tenant = try await TestEnvironment.makeTenant(database)
            let north = try await TenantService().createOrgUnit(
                tenantId: tenant.tenant.id, name: "North", parentId: nil, actor: .platformOperator, runner: database)
            try await Self.giveIdentityRows(to: tenant, database)
            let northScope = Scope(tenantId: tenant.tenant.id, orgUnitIds: [north.id])
            let users = try await database.transaction(northScope) { try await $0.listUsers(UserFilter(limit: 100)) }
            #expect(users.isEmpty, "people homed in the root unit are outside North")
            let bothScope = Scope(tenantId: tenant.tenant.id, orgUnitIds: [north.id, tenant.rootOrgUnit.id])
            let visible = try await database.transaction(bothScope) { try await $0.listUsers(UserFilter(limit: 100)) }
            #expect(visible.count == 1)
        }
    }
}
