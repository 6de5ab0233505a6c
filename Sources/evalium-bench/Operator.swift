import EvaliumCore
import Foundation
import NIOCore
import NIOHTTP1

/// One simulated person's steps through the API, each timed into `recorder` under its route.
struct Operator: Sendable {
    let api: API
    let tenant: SeededTenant
    let recorder: Recorder

    /// Observation answers: a failed check (with the comment it requires, raising a finding) where
    /// `failing` says so, a pass elsewhere. Quiz answers alternate between right and wrong.
    struct Answers: Sendable {
        var failing: @Sendable (Int) -> Bool

        /// One check in ten fails, as on a real walk.
        static let everyTenth = Answers { $0 % 10 == 3 }
        /// Items 8 and 23 fail: the two findings the pgbench baseline writes.
        static let asInBaseline = Answers { $0 == 7 || $0 == 22 }
    }

    /// An assignment of the tenant's observation (or quiz) to its administrator, its session launched and
    /// every item answered; answers the session, ready to submit.
    func prepareSession(observation: Bool, round: Int, answers: Answers = .everyTenth) async throws -> String {
        let token = tenant.adminToken
        let subject = tenant.subjects.isEmpty ? nil : tenant.subjects[round % tenant.subjects.count]
        let subjects = subject.map { #","subjects":[{"subjectId":"\#($0)","role":"primary"}]"# } ?? ""
        let assignment = try await api.send(
            .POST, "/v1/assignments", route: "/v1/assignments",
            json: #"{"evaluationId":"\#(observation ? tenant.observation : tenant.quiz)","target":{"userId":"\#(tenant.adminId)"}\#(subjects)}"#,
            token: token, idempotencyKey: ULID().text, recorder: recorder).body
        guard let assignmentId = assignment["id"]?.stringValue else { throw SeedFailed("no assignment in \(assignment)") }
        let launched = try await api.send(
            .POST, "/v1/assignments/\(assignmentId)/sessions", route: "/v1/assignments/{id}/sessions", token: token,
            idempotencyKey: ULID().text, recorder: recorder).body
        guard let session = launched["session"]?["id"]?.stringValue else { throw SeedFailed("no session in \(launched)") }
        let items = (launched["form"]?["sections"]?.elements ?? []).flatMap { section in
            (section["items"]?.elements ?? []).compactMap { $0["id"]?.stringValue }
        }
        for (index, item) in items.enumerated() {
            let answer =
                observation
                ? (answers.failing(index) ? #"{"answer":{"optionIds":["fail"]},"comment":"Seal broken"}"# : #"{"answer":{"optionIds":["pass"]}}"#)
                : #"{"answer":{"optionIds":["\#(index % 4 == 0 ? "a" : "b")"]}}"#
            _ = try await api.send(
                .PUT, "/v1/sessions/\(session)/items/\(item)", route: "/v1/sessions/{id}/items/{item}", json: answer, token: token,
                idempotencyKey: ULID().text, recorder: recorder)
        }
        return session
    }

    /// Submits `session` with an Idempotency-Key; answers the submission.
    func submit(_ session: String) async throws -> String {
        let submitted = try await api.send(
            .POST, "/v1/sessions/\(session)/submit", route: "/v1/sessions/{id}/submit", token: tenant.adminToken,
            idempotencyKey: ULID().text, recorder: recorder)
        // Only the id: the answer is the whole submission with its form, and the driver shares the cores.
        struct Created: Decodable { var id: String }
        guard let created = try? JSONDecoder().decode(Created.self, from: Data(submitted.bytes.readableBytesView)) else {
            throw SeedFailed("no submission in \(String(buffer: submitted.bytes).prefix(300))")
        }
        return created.id
    }

    /// A reader's look at a submission: the server appends its `submission.viewed` ledger event.
    func read(_ submission: String) async throws {
        _ = try await api.send(.GET, "/v1/submissions/\(submission)", route: "/v1/submissions/{id}", token: tenant.adminToken, recorder: recorder)
    }

    /// The tenant's reviewer approves (the observation is under four-eyes review, and the operator is the
    /// administrator).
    func approve(_ submission: String) async throws {
        _ = try await api.send(
            .POST, "/v1/submissions/\(submission)/approve", route: "/v1/submissions/{id}/approve", token: tenant.reviewerToken,
            idempotencyKey: ULID().text, recorder: recorder)
    }
}
