@testable import EvaliumApp
import EvaliumCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Review: approve, reject, request changes and reopen, under four-eyes when configured", .timeLimit(.minutes(2)))
struct ReviewTests {
    static let check = DeliveryTests.majorFinding

    /// A finalised observation by `operatorPerson` (pending review), as its id.
    static func pendingSubmission(
        _ client: some TestClientProtocol, template: EvaluationID, by operatorPerson: SignedIn, subjects: [SubjectID] = []
    ) async throws -> String {
        let started = try await Delivery.selfAssignedSession(client, evaluation: template, subjects: subjects, as: operatorPerson)
        _ = try await Delivery.answer(client, started.sessionId, try #require(started.items.first), #"{"answer":{"optionIds":["pass"]}}"#, as: operatorPerson)
        let submitted = try await client.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: operatorPerson)
        #expect(submitted.status == .created, "\(submitted.text)")
        return try #require(try submitted.json()["id"]?.stringValue)
    }

    static func act(_ client: some TestClientProtocol, _ action: ReviewAction, _ submission: String, as person: SignedIn) async throws -> TestResponse {
        let path = action == .requestChanges ? "request-changes" : action.rawValue
        let note = action.requiresNote ? #"{"note":"Photo of the gauge is missing"}"# : nil
        return try await client.send(.post, "/v1/submissions/\(submission)/\(path)", json: note, as: person)
    }

    /// Review events of a submission (views excluded).
    static func reviewEvents(_ client: some TestClientProtocol, _ submission: String, as reader: SignedIn) async throws -> [String] {
        try await Delivery.events(client, about: submission, as: reader).compactMap { $0["eventType"]?.stringValue }
            .filter { $0 != "submission.viewed" && $0 != "submission.finalised" }
    }

    @Test("every (state, action) pair over HTTP: allowed ones succeed with exactly one event, forbidden ones are 409 with none")
    func stateActionTable() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], as: tenant.admin)
            let reach: [ApprovalStatus: ReviewAction?] = [.pendingReview: nil, .approved: .approve, .rejected: .reject, .changesRequested: .requestChanges]
            for (state, setUp) in reach {
                for action in ReviewAction.allCases {
                    let submission = try await Self.pendingSubmission(client, template: template, by: tenant.admin)
                    if let setUp { #expect(try await Self.act(client, setUp, submission, as: tenant.admin).status == .ok) }
                    let before = try await Self.reviewEvents(client, submission, as: tenant.admin)
                    let response = try await Self.act(client, action, submission, as: tenant.admin)
                    let after = try await Self.reviewEvents(client, submission, as: tenant.admin)
                    if let next = ReviewTransition.next(from: state, action) {
                        #expect(response.status == .ok, "\(state) \(action): \(response.text)")
                        #expect(try response.json()["approvalStatus"]?.stringValue == next.rawValue)
                        #expect(after.count == before.count + 1 && after.last == action.eventType.rawValue, "\(state) \(action)")
                    } else {
                        #expect(response.status == .conflict, "\(state) \(action)")
                        #expect(response.headers[.contentType] == "application/problem+json")
                        #expect(after == before, "\(state) \(action): a refused action records nothing")
                    }
                }
            }
        }
    }

    @Test("four-eyes refuses (and records) self-approval and approval by the subject; self-approve allows it; auto-approve approves at submit")
    func fourEyes() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let maker = try await TestEnvironment.makeUser(
                client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil), (BuiltInRole.reviewer.id, nil), (BuiltInRole.assigner.id, nil)])
            let checker = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.reviewer.id, nil)])
            let strict = try await Delivery.publishedEvaluation(
                client, kind: .observation, questions: [Self.check], extra: #","reviewPolicy":"four_eyes""#, as: tenant.admin)
            let own = try await Self.pendingSubmission(client, template: strict, by: maker)
            let refused = try await Self.act(client, .approve, own, as: maker)
            #expect(refused.status == .forbidden && refused.text.contains("four-eyes"))
            #expect(try await Self.reviewEvents(client, own, as: tenant.admin) == ["submission.approval.refused"], "the refusal is recorded")
            #expect(try await Self.act(client, .approve, own, as: checker).status == .ok, "a second person approves")

            let person = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"user","displayName":"Checker","externalRef":"CHK","userId":"\#(checker.userId)"}"#,
                as: tenant.admin)
            let aboutChecker = try await Self.pendingSubmission(
                client, template: strict, by: maker, subjects: [try #require(SubjectID(try person.json()["id"]?.stringValue ?? ""))])
            #expect(try await Self.act(client, .approve, aboutChecker, as: checker).status == .forbidden, "the subject cannot approve their own assessment")

            let relaxed = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], as: tenant.admin)
            let selfApproved = try await Self.pendingSubmission(client, template: relaxed, by: maker)
            #expect(try await Self.act(client, .approve, selfApproved, as: maker).status == .ok)

            let automatic = try await Delivery.publishedEvaluation(
                client, kind: .observation, questions: [Self.check], extra: #","autoApprove":true"#, as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: automatic, as: maker)
            _ = try await Delivery.answer(client, started.sessionId, try #require(started.items.first), #"{"answer":{"optionIds":["pass"]}}"#, as: maker)
            let submitted = try await client.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: maker).json()
            #expect(submitted["approvalStatus"] == "approved")
            let id = try #require(submitted["id"]?.stringValue)
            #expect(try await Self.reviewEvents(client, id, as: tenant.admin) == ["submission.approved"])
        }
    }

    @Test("each action needs its capability; notes are required to reject; another tenant cannot act")
    func capabilitiesAndTenants() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], as: tenant.admin)
            let submission = try await Self.pendingSubmission(client, template: template, by: tenant.admin)
            let inspector = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            let analyst = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.analyst.id, nil)])
            for action in ReviewAction.allCases {
                let response = try await Self.act(client, action, submission, as: inspector)
                #expect(response.status == .forbidden && response.text.contains(action.capability.rawValue), "\(action)")
            }
            #expect(try await Self.act(client, .reject, submission, as: analyst).status == .forbidden)
            let bare = try await client.send(.post, "/v1/submissions/\(submission)/reject", as: tenant.admin)
            #expect(bare.status == .unprocessableContent && bare.text.contains("/note"))
            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            #expect(try await Self.act(client, .approve, submission, as: other.admin).status == .notFound)
        }
    }

    @Test("rejected work is reworked as a new attempt whose submission names the one it replaces; listings and the queue follow approval")
    func reworkAndListings() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let maker = try await TestEnvironment.makeUser(
                client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil), (BuiltInRole.reviewer.id, nil), (BuiltInRole.assigner.id, nil)])
            let checker = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.reviewer.id, nil)])
            let template = try await Delivery.publishedEvaluation(
                client, kind: .observation, questions: [Self.check], extra: #","reviewPolicy":"four_eyes","grading":{"maxAttempts":1}"#,
                as: tenant.admin)
            let first = try await Self.pendingSubmission(client, template: template, by: maker)
            let queue = try await client.send(.get, "/v1/review-queue", as: checker).json()["items"]?.arrayValue ?? []
            #expect(queue.contains { $0["id"]?.stringValue == first } && queue.first?["findingsCount"] == 0)
            let ownQueue = try await client.send(.get, "/v1/review-queue", as: maker).json()["items"]?.arrayValue ?? []
            #expect(!ownQueue.contains { $0["id"]?.stringValue == first }, "under four-eyes one's own work is not in one's queue")
            #expect(try await client.send(.get, "/v1/my/submissions", as: maker).json()["items"]?.arrayValue.isEmpty == true, "operators list approved work only")

            #expect(try await Self.act(client, .reject, first, as: checker).status == .ok)
            #expect(try await client.send(.post, "/v1/submissions/\(first)/rework", as: checker).status == .forbidden, "rework is the operator's")
            let rework = try await client.send(.post, "/v1/submissions/\(first)/rework", as: maker)
            #expect(rework.status == .created, "\(rework.text)")
            let session = try rework.json()
            #expect(session["session"]?["reworkOf"]?.stringValue == first, "rework does not count against the single attempt")
            let sessionId = try #require(session["session"]?["id"]?.stringValue)
            _ = try await Delivery.answer(client, sessionId, try #require(Delivery.items(session).first), #"{"answer":{"optionIds":["pass"]}}"#, as: maker)
            let second = try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: maker).json()
            let secondId = try #require(second["id"]?.stringValue)
            #expect(second["replaces"]?.stringValue == first)
            #expect(try await Self.act(client, .approve, secondId, as: checker).status == .ok)

            let mine = try await client.send(.get, "/v1/my/submissions", as: maker).json()["items"]?.arrayValue ?? []
            #expect(mine.map { $0["id"]?.stringValue } == [secondId] && mine.first?["replaces"]?.stringValue == first)
            let rejected = try await client.send(.get, "/v1/submissions?approvalStatus=rejected", as: checker).json()["items"]?.arrayValue ?? []
            #expect(rejected.map { $0["id"]?.stringValue } == [first], "the replaced submission stays, rejected, in the history")
            #expect(try await client.send(.post, "/v1/submissions/\(secondId)/rework", as: maker).status == .conflict, "approved work is not reworked")
        }
    }

    @Test("an approve and a reject of the same submission at once: exactly one wins")
    func concurrentDecisions() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], as: tenant.admin)
            let submission = try await Self.pendingSubmission(client, template: template, by: tenant.admin)
            let admin = tenant.admin
            async let approve = Self.act(client, .approve, submission, as: admin)
            async let reject = Self.act(client, .reject, submission, as: admin)
            let statuses = try await [approve.status.code, reject.status.code].sorted()
            #expect(statuses == [200, 409])
            #expect(try await Self.reviewEvents(client, submission, as: tenant.admin).count == 1)
        }
    }
}
