import EvaliumCore
import Foundation
import PostgresNIO

/// Filters for listing assignments; they combine with AND.
public struct AssignmentFilter: Sendable {
    public var evaluationId: EvaluationID?
    public var batchId: BatchID?
    public var targetUserId: UserID?
    public var status: AssignmentStatus?
    /// Only assignments whose target is the signed-in person (by id, group or invited email).
    public var targetingMe: Bool
    public var after: AssignmentID?
    public var limit: Int

    public init(
        evaluationId: EvaluationID? = nil, batchId: BatchID? = nil, targetUserId: UserID? = nil, status: AssignmentStatus? = nil,
        targetingMe: Bool = false, after: AssignmentID? = nil, limit: Int
    ) {
        self.evaluationId = evaluationId
        self.batchId = batchId
        self.targetUserId = targetUserId
        self.status = status
        self.targetingMe = targetingMe
        self.after = after
        self.limit = limit
    }
}

// MARK: Assignments

extension Transaction {
    /// Issues an assignment with the frozen content (evaluation version and pinned question versions) it runs,
    /// stored once per tenant and named by its hash; answers that content with its hash.
    @discardableResult
    public func insertAssignment(_ assignment: Assignment, content: AssignmentContent) async throws -> FrozenContent {
        let frozen = try await freezeContent(content)
        try await run(
            """
            INSERT INTO assignments (id, tenant_id, org_unit_id, evaluation_id, evaluation_version, kind, target_user_id, target_group_id,
                                     target_email, status, cohort, batch_id, overrides, policy, content_hash, available_from, available_until,
                                     created_by, created_at)
            VALUES (\(assignment.id.rawValue), \(assignment.tenantId.rawValue), \(assignment.orgUnitId.rawValue),
                    \(assignment.evaluationId.rawValue), \(assignment.evaluationVersion), \(assignment.kind.rawValue),
                    \(assignment.target.userId?.rawValue), \(assignment.target.groupId?.rawValue), \(assignment.target.email),
                    \(assignment.status.rawValue), \(assignment.cohort), \(assignment.batchId?.rawValue),
                    \(try storedJSON(assignment.overrides))::jsonb, \(try storedJSON(assignment.policy))::jsonb,
                    \(frozen.hash), \(assignment.policy.availableFrom.map(MillisecondTimestamp.init)), \(assignment.policy.availableUntil.map(MillisecondTimestamp.init)),
                    \(assignment.createdBy.rawValue), \(MillisecondTimestamp(assignment.createdAt)))
            """)
        guard !assignment.subjects.isEmpty else { return frozen }
        try await run(
            """
            INSERT INTO assignment_subjects (tenant_id, org_unit_id, assignment_id, subject_id, role)
            SELECT \(assignment.tenantId.rawValue), \(assignment.orgUnitId.rawValue), \(assignment.id.rawValue), subject_id, role
            FROM unnest(\(assignment.subjects.map(\.subjectId.rawValue))::text[], \(assignment.subjects.map(\.role.rawValue))::text[])
                 AS s(subject_id, role)
            """)
        return frozen
    }

    public func fetchAssignment(_ id: AssignmentID, lockingForChange: Bool = false) async throws -> Assignment? {
        let select = "SELECT \(Self.assignmentColumns) FROM assignments a WHERE a.id ="
        let rows =
            if lockingForChange {
                try await run("\(unescaped: select) \(id.rawValue) FOR UPDATE OF a", plannedAs: AssignmentForChange.self)
            } else {
                try await run("\(unescaped: select) \(id.rawValue)", plannedAs: FetchAssignment.self)
            }
        return try await assignments(from: rows).first?.assignment
    }

    /// The assignment with its frozen content, in one statement (launching reads both).
    public func fetchAssignmentWithContent(_ id: AssignmentID) async throws -> (assignment: Assignment, content: FrozenContent)? {
        let rows = try await run(
            "SELECT \(unescaped: Self.assignmentColumns), a.content_hash FROM assignments a WHERE a.id = \(id.rawValue)",
            plannedAs: AssignmentWithContentHash.self)
        guard let (assignment, hash) = try await assignments(from: rows, withContentHash: true).first, let hash,
              let content = try await frozenContent(hash)
        else { return nil }
        return (assignment, content)
    }

    public func listAssignments(_ filter: AssignmentFilter) async throws -> [Assignment] {
        try await assignments(
            from: run(
            """
            SELECT \(unescaped: Self.assignmentColumns) FROM assignments a
            WHERE (\(filter.evaluationId?.rawValue)::text IS NULL OR a.evaluation_id = \(filter.evaluationId?.rawValue))
              AND (\(filter.batchId?.rawValue)::text IS NULL OR a.batch_id = \(filter.batchId?.rawValue))
              AND (\(filter.targetUserId?.rawValue)::text IS NULL OR a.target_user_id = \(filter.targetUserId?.rawValue))
              AND (\(filter.status?.rawValue)::text IS NULL OR a.status = \(filter.status?.rawValue))
              AND (NOT \(filter.targetingMe) OR app_assignment_targets_me(a.tenant_id, a.target_user_id, a.target_group_id, a.target_email))
              AND (\(filter.after?.rawValue)::text IS NULL OR a.id > \(filter.after?.rawValue))
            ORDER BY a.id
            LIMIT \(filter.limit)
            """)).map(\.assignment)
    }

    /// Whether the signed-in person is the assignment's target (directly, through a group, or by email).
    public func assignmentTargetsMe(_ assignment: Assignment) async throws -> Bool {
        let rows = try await run(
            """
            SELECT app_assignment_targets_me(\(assignment.tenantId.rawValue), \(assignment.target.userId?.rawValue),
                                             \(assignment.target.groupId?.rawValue), \(assignment.target.email))
            """)
        return try await rows.decode(Bool.self).contains(true)
    }

    public func withdrawAssignment(_ id: AssignmentID, at date: Date) async throws {
        try await run(
            "UPDATE assignments SET status = 'withdrawn', withdrawn_at = \(MillisecondTimestamp(date)) WHERE id = \(id.rawValue)")
    }

    static let assignmentColumns = """
        a.id, a.tenant_id, a.org_unit_id, a.evaluation_id, a.evaluation_version, a.kind, a.target_user_id, a.target_group_id,
        a.target_email, a.status, a.cohort, a.batch_id, a.overrides::text, a.policy::text, a.created_by, a.created_at, a.withdrawn_at,
        (SELECT coalesce(jsonb_agg(jsonb_build_object('subjectId', x.subject_id, 'role', x.role) ORDER BY x.role, x.subject_id), '[]')
         FROM assignment_subjects x WHERE x.assignment_id = a.id)::text
        """

    private static let assignmentColumnCount = 18

    /// Assignments from rows of `assignmentColumns`, each with the hash of its frozen content when the statement
    /// selects `content_hash` after them (`withContentHash`).
    private func assignments(
        from rows: some AsyncSequence<PostgresRow, any Error>, withContentHash: Bool = false
    ) async throws -> [(assignment: Assignment, contentHash: String?)] {
        var result: [(assignment: Assignment, contentHash: String?)] = []
        for try await row in rows {
            let cells = Array(row)
            result.append((
                try Self.assignment(cells, from: 0), withContentHash ? try cells[Self.assignmentColumnCount].decode(String.self) : nil))
        }
        return result
    }

    /// An assignment from the `assignmentColumnCount` cells of a row that start at `first`.
    private static func assignment(_ cells: [PostgresCell], from first: Int) throws -> Assignment {
        func cell<Value: PostgresDecodable>(_ offset: Int, _ type: Value.Type = Value.self) throws -> Value {
            try cells[first + offset].decode(Value.self)
        }
        return Assignment(
            id: AssignmentID(unchecked: try cell(0)), tenantId: TenantID(unchecked: try cell(1)), orgUnitId: OrgUnitID(unchecked: try cell(2)),
            evaluationId: EvaluationID(unchecked: try cell(3)), evaluationVersion: try cell(4),
            kind: try storedEnum(EvaluationKind.self, try cell(5)),
            target: AssignmentTarget(
                userId: try cell(6, String?.self).map(UserID.init(unchecked:)), groupId: try cell(7, String?.self).map(GroupID.init(unchecked:)),
                email: try cell(8)),
            status: try storedEnum(AssignmentStatus.self, try cell(9)), cohort: try cell(10),
            batchId: try cell(11, String?.self).map(BatchID.init(unchecked:)), subjects: try storedValue([AssignedSubject].self, try cell(17)),
            overrides: try storedValue(AssignmentOverrides.self, try cell(12)), policy: try storedValue(EffectivePolicy.self, try cell(13)),
            createdBy: UserID(unchecked: try cell(14)), createdAt: try cell(15, Date.self).roundedToMilliseconds(),
            withdrawnAt: try cell(16, Date?.self)?.roundedToMilliseconds())
    }
}

// MARK: Sessions and recorded items

extension Transaction {
    /// How many attempts this person has started on the assignment (rework does not count against the
    /// limit), and their active one if any.
    public func attempts(at assignment: AssignmentID, by operatorId: UserID) async throws -> (count: Int, all: Int, active: DeliverySession?) {
        let sessions = try await deliverySessions(
            "WHERE s.assignment_id = \(assignment.rawValue) AND s.operator_id = \(operatorId.rawValue) ORDER BY s.attempt_number",
            plannedAs: AttemptsOfOperator.self
        ).map(\.session)
        return (sessions.filter { $0.reworkOf == nil }.count, sessions.count, sessions.first { $0.status == .active })
    }

    public func insertSession(_ session: DeliverySession) async throws {
        try await run(
            """
            INSERT INTO delivery_sessions (id, tenant_id, org_unit_id, assignment_id, operator_id, attempt_number, status, mode,
                                           started_at, expires_at, rework_of)
            VALUES (\(session.id.rawValue), \(session.tenantId.rawValue), \(session.orgUnitId.rawValue), \(session.assignmentId.rawValue),
                    \(session.operatorId.rawValue), \(session.attemptNumber), \(session.status.rawValue), \(session.mode.rawValue),
                    \(MillisecondTimestamp(session.startedAt)), \(session.expiresAt.map(MillisecondTimestamp.init)),
                    \(session.reworkOf?.rawValue))
            """)
    }

    /// The session if visible; `lockingForChange` holds it until the transaction ends, so answers and the
    /// submit of one session happen one after the other.
    public func fetchSession(_ id: AttemptID, lockingForChange: Bool = false) async throws -> DeliverySession? {
        if lockingForChange {
            try await deliverySessions("WHERE s.id = \(id.rawValue) FOR UPDATE OF s", plannedAs: SessionForChange.self).first?.session
        } else {
            try await deliverySessions("WHERE s.id = \(id.rawValue)", plannedAs: Session.self).first?.session
        }
    }

    /// The session, locked for the change, with its assignment's frozen content, in one statement where there were
    /// two: every answer and every attached piece of evidence read both. Nil when either is out of reach.
    public func fetchSessionWithContentForChange(_ id: AttemptID) async throws -> (session: DeliverySession, content: FrozenContent)? {
        let found = try await deliverySessions(
            "WHERE s.id = \(id.rawValue) FOR UPDATE OF s", withContentHash: true, plannedAs: SessionWithContentHashForChange.self)
        guard let (session, hash) = found.first, let hash, let content = try await frozenContent(hash) else { return nil }
        return (session, content)
    }

    /// The session with its assignment and the assignment's frozen content, in one statement where there were
    /// two: the submit and the session's view read all three. `lockingForChange` locks the session alone. Nil when
    /// the session or its assignment is out of reach.
    public func fetchSessionWithAssignment(
        _ id: AttemptID, lockingForChange: Bool = false
    ) async throws -> (session: DeliverySession, assignment: Assignment, content: FrozenContent)? {
        let select = """
            SELECT \(Self.sessionColumns), \(Self.assignmentColumns), a.content_hash
            FROM delivery_sessions s JOIN assignments a ON a.id = s.assignment_id
            WHERE s.id =
            """
        let rows =
            if lockingForChange {
                try await run("\(unescaped: select) \(id.rawValue) FOR UPDATE OF s", plannedAs: SessionWithAssignmentForChange.self)
            } else {
                try await run("\(unescaped: select) \(id.rawValue)", plannedAs: SessionWithAssignment.self)
            }
        // The row is read to the end before the content is fetched: a connection runs one query at a time.
        var found: (session: DeliverySession, assignment: Assignment, contentHash: String)?
        for try await row in rows {
            let cells = Array(row)
            found = (
                try Self.session(cells), try Self.assignment(cells, from: Self.sessionColumnCount),
                try cells[Self.sessionColumnCount + Self.assignmentColumnCount].decode(String.self)
            )
        }
        guard let found, let content = try await frozenContent(found.contentHash) else { return nil }
        return (found.session, found.assignment, content)
    }

    public func moveSession(_ id: AttemptID, to item: ItemID?) async throws {
        try await run("UPDATE delivery_sessions SET current_item_id = \(item?.rawValue) WHERE id = \(id.rawValue)")
    }

    public func insertSessionEvent(_ session: DeliverySession, type: String, payload: JSONValue, clientTimestamp: Date?, at date: Date) async throws {
        try await run(
            """
            INSERT INTO delivery_session_events (tenant_id, org_unit_id, session_id, event_type, payload, client_timestamp, received_at)
            VALUES (\(session.tenantId.rawValue), \(session.orgUnitId.rawValue), \(session.id.rawValue), \(type), \(try jsonText(payload))::jsonb,
                    \(clientTimestamp.map(MillisecondTimestamp.init)), \(MillisecondTimestamp(date)))
            """)
    }

    /// Records (or re-records, while the session is active) one item's answer, in one round trip. With an
    /// `event` (an operator answering: the commonest write, every item of every session) the session also
    /// moves to the item and keeps the event; without one (an answer its evidence completes) only the answer
    /// is saved.
    public func saveResponse(
        _ response: RecordedResponse, in session: DeliverySession, by user: UserID, event: (type: String, payload: JSONValue)? = nil
    ) async throws {
        try await run(
            """
            WITH saved AS (
                INSERT INTO submission_items (tenant_id, org_unit_id, session_id, item_id, question_id, answer, comment, complete, missing,
                                              client_timestamp, context, recorded_by, recorded_at)
                VALUES (\(session.tenantId.rawValue), \(session.orgUnitId.rawValue), \(session.id.rawValue), \(response.itemId.rawValue),
                        \(response.questionId.rawValue), \(try storedJSON(response.answer))::jsonb, \(nullable: response.comment), \(response.complete),
                        \(try storedJSON(response.missing))::jsonb, \(nullable: response.clientTimestamp.map(MillisecondTimestamp.init)),
                        \(nullable: try response.context.map(jsonText))::jsonb, \(user.rawValue), \(MillisecondTimestamp(response.recordedAt)))
                ON CONFLICT (session_id, item_id) DO UPDATE
                   SET answer = excluded.answer, comment = excluded.comment, complete = excluded.complete, missing = excluded.missing,
                       client_timestamp = excluded.client_timestamp, context = excluded.context, recorded_by = excluded.recorded_by,
                       recorded_at = excluded.recorded_at),
            moved AS (
                UPDATE delivery_sessions SET current_item_id = \(response.itemId.rawValue) WHERE id = \(session.id.rawValue) AND \(event != nil))
            INSERT INTO delivery_session_events (tenant_id, org_unit_id, session_id, event_type, payload, client_timestamp, received_at)
            SELECT \(session.tenantId.rawValue), \(session.orgUnitId.rawValue), \(session.id.rawValue), \(nullable: event?.type),
                   \(nullable: try event.map { try jsonText($0.payload) })::jsonb, \(nullable: response.clientTimestamp.map(MillisecondTimestamp.init)),
                   \(MillisecondTimestamp(response.recordedAt))
            WHERE \(event != nil)
            """, plannedAs: SaveResponse.self)
    }

    public func listResponses(session: AttemptID) async throws -> [RecordedResponse] {
        try await responses(ofSessions: [session])[session] ?? []
    }

    /// When each item of `sessions` was last answered: what reporting needs of responses that are not scored again.
    /// Read session by session (a lateral join): asked for hundreds at once, PostgreSQL checks the policy of
    /// `submission_items` against a hash of every session of the tenant, built anew for each statement.
    public func answerTimes(ofSessions sessions: [AttemptID]) async throws -> [AttemptID: [ItemID: Date]] {
        let rows = try await run(
            """
            SELECT i.session_id, i.item_id, i.recorded_at
            FROM unnest(\(sessions.map(\.rawValue))::text[]) AS s(id)
                 CROSS JOIN LATERAL (SELECT session_id, item_id, recorded_at FROM submission_items WHERE session_id = s.id) AS i
            """)
        var times: [AttemptID: [ItemID: Date]] = [:]
        for try await (session, itemId, recordedAt) in rows.decode((String, String, Date).self) {
            times[AttemptID(unchecked: session), default: [:]][ItemID(unchecked: itemId)] = recordedAt.roundedToMilliseconds()
        }
        return times
    }

    /// The recorded responses of each of `sessions`, each session's in the order they were recorded.
    public func responses(ofSessions sessions: [AttemptID]) async throws -> [AttemptID: [RecordedResponse]] {
        let columns = """
            SELECT session_id, item_id, question_id, answer::text, comment, complete, missing::text, client_timestamp, context::text, recorded_at
            FROM submission_items
            """
        // One session (every read of a submission) has a statement of its own, as in `fetchSubmissions`; its id is
        // bound through a sub-select so that a plan for the given id looks no cheaper than the generic one (see
        // `PlannedStatement`).
        let rows =
            if sessions.count == 1 {
                try await run(
                    "\(unescaped: columns) WHERE session_id = (SELECT \(sessions[0].rawValue)::text) ORDER BY recorded_at, item_id",
                    plannedAs: ResponsesOfSession.self)
            } else {
                try await run(
                    "\(unescaped: columns) WHERE session_id = ANY(\(sessions.map(\.rawValue))::text[]) ORDER BY session_id, recorded_at, item_id",
                    plannedAs: ResponsesOfSessions.self)
            }
        var responses: [AttemptID: [RecordedResponse]] = [:]
        for try await row in rows {
            let (session, itemId, questionId, answer, comment, complete, missing, clientTimestamp, context, recordedAt) = try row.decode(
                (String, String, String, String, String?, Bool, String, Date?, String?, Date).self)
            responses[AttemptID(unchecked: session), default: []].append(
                try RecordedResponse(
                    storedItem: itemId, question: questionId, answer: answer, comment: comment, complete: complete, missing: missing,
                    clientTimestamp: clientTimestamp, context: context, recordedAt: recordedAt))
        }
        return responses
    }

    /// Sessions, each with the hash of its assignment's frozen content when `withContentHash` (nil where the
    /// assignment is out of reach).
    private func deliverySessions<Statement: PlannedStatement>(
        _ tail: PostgresQuery, withContentHash: Bool = false, plannedAs statement: Statement.Type
    ) async throws -> [(session: DeliverySession, contentHash: String?)] {
        let contentHash = withContentHash ? ", (SELECT a.content_hash FROM assignments a WHERE a.id = s.assignment_id)" : ""
        let rows = try await run(tail.wrapped("SELECT \(Self.sessionColumns)\(contentHash) FROM delivery_sessions s"), plannedAs: statement)
        var result: [(session: DeliverySession, contentHash: String?)] = []
        for try await row in rows {
            let cells = Array(row)
            result.append((try Self.session(cells), withContentHash ? try cells[Self.sessionColumnCount].decode(String?.self) : nil))
        }
        return result
    }

    private static let sessionColumns = """
        s.id, s.tenant_id, s.org_unit_id, s.assignment_id, s.operator_id, s.attempt_number, s.status, s.mode, s.started_at,
        s.expires_at, s.current_item_id, s.submission_id, s.submitted_at, s.rework_of
        """
    private static let sessionColumnCount = 14

    /// A session from the first `sessionColumnCount` cells of a row.
    private static func session(_ cells: [PostgresCell]) throws -> DeliverySession {
        DeliverySession(
            id: AttemptID(unchecked: try cells[0].decode(String.self)), tenantId: TenantID(unchecked: try cells[1].decode(String.self)),
            orgUnitId: OrgUnitID(unchecked: try cells[2].decode(String.self)),
            assignmentId: AssignmentID(unchecked: try cells[3].decode(String.self)), operatorId: UserID(unchecked: try cells[4].decode(String.self)),
            attemptNumber: try cells[5].decode(Int.self), status: try storedEnum(SessionStatus.self, try cells[6].decode(String.self)),
            mode: try storedEnum(CaptureMode.self, try cells[7].decode(String.self)), startedAt: try cells[8].decode(Date.self).roundedToMilliseconds(),
            expiresAt: try cells[9].decode(Date?.self)?.roundedToMilliseconds(), currentItemId: try cells[10].decode(String?.self).map(ItemID.init(unchecked:)),
            submissionId: try cells[11].decode(String?.self).map(SubmissionID.init(unchecked:)),
            submittedAt: try cells[12].decode(Date?.self)?.roundedToMilliseconds(),
            reworkOf: try cells[13].decode(String?.self).map(SubmissionID.init(unchecked:)))
    }
}

// MARK: Submissions

extension Transaction {
    /// The durability boundary's writes (seed 000 §3.1): the submission with its snapshot, then in one statement
    /// its items linked, its subjects, the session closed, `events` appended to the ledger and `published` written to
    /// the outbox as `publish` writes them (two round trips where there were six).
    /// The snapshot is stored as its frame, naming its content (already frozen for the assignment) by hash.
    public func finalise(
        _ submission: Submission, snapshot: VersionSnapshot, contentHash: String, appending events: [LedgerEventDraft] = [],
        publishing published: [OutboxEvent?] = []
    ) async throws {
        try await run(
            """
            INSERT INTO submissions (id, tenant_id, org_unit_id, session_id, assignment_id, evaluation_id, evaluation_version, kind,
                                     operator_id, batch_id, cohort, lifecycle_status, outcome, approval_status, raw_score, max_score,
                                     scaled_score, result, snapshot, content_hash, snapshot_hash, subjects, context, started_at,
                                     submitted_at, replaces)
            VALUES (\(submission.id.rawValue), \(submission.tenantId.rawValue), \(submission.orgUnitId.rawValue), \(submission.sessionId.rawValue),
                    \(submission.assignmentId.rawValue), \(submission.evaluationId.rawValue), \(submission.evaluationVersion),
                    \(submission.kind.rawValue), \(submission.operatorId.rawValue), \(nullable: submission.batchId?.rawValue), \(nullable: submission.cohort),
                    \(submission.lifecycleStatus.rawValue), \(submission.outcome.rawValue), \(submission.approvalStatus.rawValue),
                    \(submission.result.rawScore), \(submission.result.maxScore), \(submission.result.scaledScore),
                    \(try storedJSON(submission.result))::jsonb, \(try storedJSON(snapshot.frame))::jsonb, \(contentHash), \(submission.snapshotHash),
                    \(try storedJSON(submission.subjects))::jsonb, \(nullable: try submission.context.map(jsonText))::jsonb,
                    \(MillisecondTimestamp(submission.startedAt)), \(MillisecondTimestamp(submission.submittedAt)),
                    \(nullable: submission.replaces?.rawValue))
            """, plannedAs: InsertSubmission.self)
        // The submission's row comes first, on its own: the policies of the items and subjects look for it, and a
        // statement sees only what was written before it began.
        let batch = try LedgerAppend(events, tenantId: try requireTenant())
        let outbox = try OutboxWrite(published)
        var binds = PostgresBindings()
        binds.append(submission.id.rawValue)
        binds.append(MillisecondTimestamp(submission.submittedAt))
        binds.append(submission.sessionId.rawValue)
        binds.append(submission.orgUnitId.rawValue)
        binds.append(submission.subjects.map(\.subjectId.rawValue))
        binds.append(submission.subjects.map(\.role.rawValue))
        binds.append(submission.tenantId.rawValue)
        let appending = batch.expressions(binding: &binds)
        let writing = outbox.expressions(binding: &binds)
        let sql = """
            WITH linked AS (
                UPDATE submission_items SET submission_id = $1 WHERE session_id = $3),
            subjects AS (
                INSERT INTO submission_subjects (tenant_id, org_unit_id, submission_id, subject_id, role)
                SELECT $7, $4, $1, subject_id, role FROM unnest($5::text[], $6::text[]) AS s(subject_id, role)),
            \(appending),
            \(writing),
            closed AS (
                UPDATE delivery_sessions SET status = 'submitted', submission_id = $1, submitted_at = $2 WHERE id = $3)
            SELECT count(*)::int FROM outbox_wanted
            """
        let rows = try await run(PostgresQuery(unsafeSQL: sql, binds: binds), plannedAs: LinkAndCloseSession.self)
        if outbox.isEmpty { for try await _ in rows {} } else { try await notePublished(counting: rows) }
        noteAppended(batch)
    }

    public func fetchSubmission(_ id: SubmissionID) async throws -> (Submission, VersionSnapshot)? {
        try await fetchSubmissions([id]).first
    }

    /// The submissions of `ids` visible in this scope, with their snapshots, in id order.
    public func fetchSubmissions(_ ids: [SubmissionID]) async throws -> [(Submission, VersionSnapshot)] {
        // One id (every read of a submission) has a statement of its own: PostgreSQL keeps a plan for `id = $1`,
        // while for `= ANY($1)` it expects ten ids and goes on planning for the one it is given.
        let rows =
            if ids.count == 1 {
                try await run("\(unescaped: Self.submissionColumns) FROM submissions WHERE id = \(ids[0].rawValue)", plannedAs: FetchSubmission.self)
            } else {
                try await run(
                    "\(unescaped: Self.submissionColumns) FROM submissions WHERE id = ANY(\(ids.map(\.rawValue))::text[]) ORDER BY id",
                    plannedAs: FetchSubmissions.self)
            }
        return try await submissions(from: rows)
    }

    public func insertGrade(_ grade: HumanGrade, item: ItemID, note: String?, of submission: Submission, at date: Date) async throws {
        try await run(
            """
            INSERT INTO submission_grades (tenant_id, org_unit_id, submission_id, item_id, points, note, graded_by, graded_at)
            VALUES (\(submission.tenantId.rawValue), \(submission.orgUnitId.rawValue), \(submission.id.rawValue), \(item.rawValue),
                    \(grade.pointsEarned), \(note), \(grade.gradedBy.rawValue), \(MillisecondTimestamp(date)))
            """)
    }
}

/// Filters for listing submissions; they combine with AND.
public struct SubmissionFilter: Sendable {
    public var approvalStatus: ApprovalStatus?
    public var evaluationId: EvaluationID?
    public var assignmentId: AssignmentID?
    public var batchId: BatchID?
    public var operatorId: UserID?
    /// true: only voided submissions; false: only standing ones; nil: both.
    public var voided: Bool?
    /// The review queue: oldest first, standing, and under four-eyes not the reader's own work.
    public var queueFor: UserID?
    public var after: SubmissionID?
    public var limit: Int

    public init(
        approvalStatus: ApprovalStatus? = nil, evaluationId: EvaluationID? = nil, assignmentId: AssignmentID? = nil, batchId: BatchID? = nil,
        operatorId: UserID? = nil, voided: Bool? = nil, queueFor: UserID? = nil, after: SubmissionID? = nil, limit: Int
    ) {
        self.voided = voided
        self.approvalStatus = approvalStatus
        self.evaluationId = evaluationId
        self.assignmentId = assignmentId
        self.batchId = batchId
        self.operatorId = operatorId
        self.queueFor = queueFor
        self.after = after
        self.limit = limit
    }
}

extension Transaction {
    /// Submissions visible in the scope, by id (the queue: by submission time, oldest first).
    public func listSubmissions(_ filter: SubmissionFilter) async throws -> [SubmissionSummary] {
        let order = filter.queueFor == nil ? "s.id" : "s.submitted_at, s.id"
        let rows = try await run(
            """
            SELECT s.id, s.org_unit_id, s.assignment_id, s.evaluation_id, s.evaluation_version, s.kind, s.operator_id, s.batch_id, s.cohort,
                   s.outcome, s.approval_status, jsonb_array_length(s.result->'findings'), s.submitted_at, s.replaces,
                   v.submission_id IS NOT NULL,
                   (SELECT count(*) FROM submission_amendments a WHERE a.submission_id = s.id)::int
            FROM submissions s LEFT JOIN submission_voids v ON v.submission_id = s.id
            WHERE (\(filter.voided)::boolean IS NULL OR (v.submission_id IS NOT NULL) = \(filter.voided))
              AND (\(filter.approvalStatus?.rawValue)::text IS NULL OR s.approval_status = \(filter.approvalStatus?.rawValue))
              AND (\(filter.evaluationId?.rawValue)::text IS NULL OR s.evaluation_id = \(filter.evaluationId?.rawValue))
              AND (\(filter.assignmentId?.rawValue)::text IS NULL OR s.assignment_id = \(filter.assignmentId?.rawValue))
              AND (\(filter.batchId?.rawValue)::text IS NULL OR s.batch_id = \(filter.batchId?.rawValue))
              AND (\(filter.operatorId?.rawValue)::text IS NULL OR s.operator_id = \(filter.operatorId?.rawValue))
              AND (\(filter.queueFor?.rawValue)::text IS NULL
                   OR (s.approval_status = 'pending_review' AND v.submission_id IS NULL
                       AND NOT (s.operator_id = \(filter.queueFor?.rawValue) AND s.snapshot->'policy'->>'reviewPolicy' = 'four_eyes')))
              AND (\(filter.after?.rawValue)::text IS NULL OR s.id > \(filter.after?.rawValue))
            ORDER BY \(unescaped: order)
            LIMIT \(filter.limit)
            """)
        var result: [SubmissionSummary] = []
        for try await row in rows {
            let cells = Array(row)
            func text(_ index: Int) throws -> String { try cells[index].decode(String.self) }
            func optional(_ index: Int) throws -> String? { try cells[index].decode(String?.self) }
            result.append(
                SubmissionSummary(
                    id: SubmissionID(unchecked: try text(0)), orgUnitId: OrgUnitID(unchecked: try text(1)),
                    assignmentId: AssignmentID(unchecked: try text(2)), evaluationId: EvaluationID(unchecked: try text(3)),
                    evaluationVersion: try cells[4].decode(Int.self), kind: try storedEnum(EvaluationKind.self, try text(5)),
                    operatorId: UserID(unchecked: try text(6)), batchId: try optional(7).map(BatchID.init(unchecked:)), cohort: try optional(8),
                    outcome: try storedEnum(Outcome.self, try text(9)), approvalStatus: try storedEnum(ApprovalStatus.self, try text(10)),
                    findingsCount: try cells[11].decode(Int.self), submittedAt: try cells[12].decode(Date.self).roundedToMilliseconds(),
                    replaces: try optional(13).map(SubmissionID.init(unchecked:)), voided: try cells[14].decode(Bool.self),
                    amendmentCount: try cells[15].decode(Int.self)))
        }
        return result
    }
}

extension RecordedResponse {
    /// A response from the columns of its `submission_items` row.
    init(
        storedItem itemId: String, question: String, answer: String, comment: String?, complete: Bool, missing: String,
        clientTimestamp: Date?, context: String?, recordedAt: Date
    ) throws {
        self.init(
            itemId: ItemID(unchecked: itemId), questionId: QuestionID(unchecked: question), answer: try storedValue(Answer.self, answer),
            comment: comment, complete: complete, missing: try storedValue([String].self, missing),
            clientTimestamp: clientTimestamp?.roundedToMilliseconds(), context: try context.map { try storedValue(JSONValue.self, $0) },
            recordedAt: recordedAt.roundedToMilliseconds())
    }
}

extension ScopedStatements {
    /// The submission if visible in the scope, with its snapshot, in one statement that applies the scope itself
    /// (`scoped_submission`).
    public func fetchSubmission(_ id: SubmissionID) async throws -> (Submission, VersionSnapshot)? {
        var binds = PostgresBindings()
        bindScope(into: &binds)
        binds.append(id.rawValue)
        let rows = try await run(PostgresQuery(unsafeSQL: Self.scopedSubmission, binds: binds), plannedAs: ScopedSubmission.self)
        return try await submissions(from: rows).first
    }

    /// `scoped_submission` answers rows of the submissions table, read under the table's name.
    private static let scopedSubmission = submissionColumns + " FROM scoped_submission(\(Scope.parameters), $9) AS submissions"
}

extension ScopedConnection {
    /// What every read of submissions selects, in the order `submissions(from:)` decodes by position.
    static var submissionColumns: String {
        """
        SELECT id, tenant_id, org_unit_id, session_id, assignment_id, evaluation_id, evaluation_version, kind, operator_id, batch_id,
               cohort, lifecycle_status, outcome, approval_status, result::text, snapshot::text, snapshot_hash, subjects::text,
               context::text, started_at, submitted_at, replaces, content_hash
        """
    }

    /// Submissions with their snapshots from rows of `submissionColumns`.
    fileprivate func submissions(from rows: PlannedRows) async throws -> [(Submission, VersionSnapshot)] {
        // The rows are read to the end before any content is fetched: a connection runs one query at a time.
        var read: [(submission: Submission, snapshot: String, contentHash: String?)] = []
        for try await row in rows {
            let cells = Array(row)
            func text(_ index: Int) throws -> String { try cells[index].decode(String.self) }
            func optional(_ index: Int) throws -> String? { try cells[index].decode(String?.self) }
            let submission = Submission(
                id: SubmissionID(unchecked: try text(0)), tenantId: TenantID(unchecked: try text(1)), orgUnitId: OrgUnitID(unchecked: try text(2)),
                sessionId: AttemptID(unchecked: try text(3)), assignmentId: AssignmentID(unchecked: try text(4)),
                evaluationId: EvaluationID(unchecked: try text(5)), evaluationVersion: try cells[6].decode(Int.self),
                kind: try storedEnum(EvaluationKind.self, try text(7)), operatorId: UserID(unchecked: try text(8)),
                batchId: try optional(9).map(BatchID.init(unchecked:)), cohort: try optional(10),
                lifecycleStatus: try storedEnum(LifecycleStatus.self, try text(11)), outcome: try storedEnum(Outcome.self, try text(12)),
                approvalStatus: try storedEnum(ApprovalStatus.self, try text(13)), result: try storedValue(ScoreResult.self, try text(14)),
                snapshotHash: try text(16), subjects: try storedValue([AssignedSubject].self, try text(17)),
                context: try optional(18).map { try storedValue(JSONValue.self, $0) }, startedAt: try cells[19].decode(Date.self).roundedToMilliseconds(),
                submittedAt: try cells[20].decode(Date.self).roundedToMilliseconds(), replaces: try optional(21).map(SubmissionID.init(unchecked:)))
            read.append((submission, try text(15), try optional(22)))
        }
        var submissions: [(Submission, VersionSnapshot)] = []
        for (submission, snapshot, contentHash) in read {
            // Submissions finalised before content was stored once keep their whole snapshot.
            guard let contentHash else {
                submissions.append((submission, try storedValue(VersionSnapshot.self, snapshot)))
                continue
            }
            guard let content = try await frozenContent(contentHash) else {
                throw StorageError.unexpected(detail: "submission \(submission.id) names content \(contentHash), which is not stored")
            }
            submissions.append((submission, VersionSnapshot(frame: try storedValue(SnapshotFrame.self, snapshot), content: content.content)))
        }
        return submissions
    }
}

private enum AssignmentForChange: PlannedStatement {}
private enum AssignmentWithContentHash: PlannedStatement {}
private enum AttemptsOfOperator: PlannedStatement {}
private enum LinkAndCloseSession: PlannedStatement {}
private enum FetchAssignment: PlannedStatement {}
private enum FetchSubmission: PlannedStatement {}
private enum ScopedSubmission: PlannedStatement {}
private enum FetchSubmissions: PlannedStatement {}
private enum InsertSubmission: PlannedStatement {}
private enum ResponsesOfSession: PlannedStatement {}
private enum ResponsesOfSessions: PlannedStatement {}
private enum SaveResponse: PlannedStatement {}
private enum Session: PlannedStatement {}
private enum SessionForChange: PlannedStatement {}
private enum SessionWithAssignment: PlannedStatement {}
private enum SessionWithAssignmentForChange: PlannedStatement {}
private enum SessionWithContentHashForChange: PlannedStatement {}
