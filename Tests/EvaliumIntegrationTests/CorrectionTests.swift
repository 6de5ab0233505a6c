@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Corrections: amendments and voids are appended, the record never changes, the history tells it all", .timeLimit(.minutes(2)))
struct CorrectionTests {
    static let check = DeliveryTests.majorFinding
    static let fourEyes = #","reviewPolicy":"four_eyes""#

    static func amend(_ client: some TestClientProtocol, _ submission: String, _ json: String, as person: SignedIn) async throws -> TestResponse {
        try await client.send(.post, "/v1/submissions/\(submission)/amendments", json: json, as: person)
    }

    static func void(
        _ client: some TestClientProtocol, _ submission: String, as person: SignedIn, headers: HTTPFields = [:]
    ) async throws -> TestResponse {
        try await client.send(.post, "/v1/submissions/\(submission)/void", json: #"{"reason":"Recorded against the wrong site"}"#, as: person, headers: headers)
    }

    /// A fail answer with the comment its finding demands.
    static func failing(_ item: String, comment: String) -> String {
        #"{"reason":"The gauge was misread","changes":[{"itemId":"\#(item)","answer":{"optionIds":["fail"]},"comment":"\#(comment)"}]}"#
    }

    /// A step-up proof header for `person`: enrol an authenticator, confirm it, step up with the next code.
    static func stepUp(_ client: some TestClientProtocol, as person: SignedIn) async throws -> HTTPFields {
        let enrolment = try await client.send(.post, "/v1/auth/totp", as: person)
        let totp = TOTP(secret: try #require(Base32.decode(try enrolment.json()["secret"]?.stringValue ?? "")))
        let step = TOTP.step(at: Date())
        #expect(try await client.send(.post, "/v1/auth/totp/confirm", json: #"{"code":"\#(totp.code(step: step))"}"#, as: person).status == .ok)
        let proof = try await client.send(.post, "/v1/auth/step-up", json: #"{"code":"\#(totp.code(step: step + 1))"}"#, as: person)
        return [HTTPField.Name(StepUp.header)!: try #require(try proof.json()["stepUpToken"]?.stringValue)]
    }

    /// The finalised record as stored: the submission row without its review columns, and its items.
    static func storedRecord(_ submission: String) async throws -> [[String?]] {
        try await TestEnvironment.sql(
            """
            SELECT (to_jsonb(s) - 'approval_status' - 'reviewed_by' - 'reviewed_at' - 'review_note')::text,
                   (SELECT string_agg(to_jsonb(i)::text, '|' ORDER BY item_id) FROM submission_items i WHERE i.submission_id = s.id)
            FROM submissions s WHERE s.id = '\(submission)'
            """, as: TestEnvironment.superuser)
    }

    /// The submission's events, views left out.
    static func events(_ client: some TestClientProtocol, _ submission: String, as reader: SignedIn) async throws -> [String] {
        try await Delivery.events(client, about: submission, as: reader).compactMap { $0["eventType"]?.stringValue }.filter { $0 != "submission.viewed" }
    }

    @Test("an amendment leaves the stored record untouched; the current state and the history follow the chain")
    func amendmentKeepsTheOriginal() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], as: tenant.admin)
            let submission = try await ReviewTests.pendingSubmission(client, template: template, by: tenant.admin)
            let item = try #require(try await client.send(.get, "/v1/submissions/\(submission)", as: tenant.admin).json()["responses"]?[0]?["itemId"]?.stringValue)
            let stored = try await Self.storedRecord(submission)

            let first = try await Self.amend(client, submission, Self.failing(item, comment: "Needle below green"), as: tenant.admin)
            #expect(first.status == .created, "\(first.text)")
            #expect(try first.json()["amendment"]?["changes"]?[0]?["before"]?["answer"]?["optionIds"]?[0] == "pass")
            #expect(try first.json()["amendment"]?["sequence"] == 1)
            let second = try await Self.amend(
                client, submission, #"{"reason":"Clearer wording","changes":[{"itemId":"\#(item)","comment":"Needle in the red"}]}"#, as: tenant.admin)
            #expect(second.status == .created, "\(second.text)")
            #expect(try await Self.storedRecord(submission) == stored, "the finalised bytes never change")

            let current = try await client.send(.get, "/v1/submissions/\(submission)", as: tenant.admin).json()
            #expect(current["amendmentCount"] == 2)
            #expect(current["responses"]?[0]?["answer"]?["optionIds"]?[0] == "fail")
            #expect(current["responses"]?[0]?["comment"] == "Needle in the red")
            #expect(current["findings"]?.arrayValue.count == 1, "the current state raises the finding the amendment recorded")

            let history = try await client.send(.get, "/v1/submissions/\(submission)/history", as: tenant.admin).json()
            #expect(history["original"]?[0]?["answer"]?["optionIds"]?[0] == "pass")
            #expect(history["current"]?[0]?["comment"] == "Needle in the red")
            let amendments = history["amendments"]?.arrayValue ?? []
            #expect(amendments.map { $0["reason"]?.stringValue } == ["The gauge was misread", "Clearer wording"])
            #expect(amendments.last?["changes"]?[0]?["before"]?["comment"] == "Needle below green", "each step shows what it crossed out")
            #expect(amendments.allSatisfy { $0["amendedBy"]?.stringValue == tenant.admin.userId.rawValue })
            let timeline = (history["timeline"]?.arrayValue ?? []).compactMap { $0["eventType"]?.stringValue }
            #expect(
                timeline == ["submission.finalised", "submission.amended", "finding.detected", "submission.rescored", "submission.amended"],
                "a major finding fails the observation: \(timeline)")
            let withViews = try await client.send(.get, "/v1/submissions/\(submission)/history?includeViews=true", as: tenant.admin).json()
            #expect((withViews["timeline"]?.arrayValue ?? []).contains { $0["eventType"] == "submission.viewed" })
        }
    }

    @Test("a corrected answer re-scores the current state; findings are withdrawn and raised by the ledger")
    func amendmentRescores() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let quiz = try await Authoring.publishedQuiz(client, as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: quiz, as: tenant.admin)
            let item = try #require(started.items.first)
            _ = try await Delivery.answer(client, started.sessionId, item, #"{"answer":{"optionIds":["a"]}}"#, as: tenant.admin)
            let submitted = try await client.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: tenant.admin).json()
            let submission = try #require(submitted["id"]?.stringValue)
            #expect(submitted["outcome"] == "fail" && submitted["approvalStatus"] == "approved")

            let amended = try await Self.amend(
                client, submission, #"{"reason":"Scanner misread the sheet","changes":[{"itemId":"\#(item)","answer":{"optionIds":["b"]}}]}"#,
                as: tenant.admin)
            #expect(amended.status == .created, "\(amended.text)")
            #expect(try amended.json()["submission"]?["outcome"] == "pass")
            #expect(try amended.json()["submission"]?["approvalStatus"] == "approved", "work that needs no review stays approved")
            #expect(try await Self.events(client, submission, as: tenant.admin).suffix(2) == ["submission.amended", "submission.rescored"])

            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], as: tenant.admin)
            let observed = try await Delivery.selfAssignedSession(client, evaluation: template, as: tenant.admin)
            let check = try #require(observed.items.first)
            _ = try await Delivery.answer(
                client, observed.sessionId, check, #"{"answer":{"optionIds":["fail"]},"comment":"Seal broken"}"#, as: tenant.admin)
            let finding = try #require(try await client.send(.post, "/v1/sessions/\(observed.sessionId)/submit", as: tenant.admin).json()["id"]?.stringValue)
            let cleared = try await Self.amend(
                client, finding, #"{"reason":"Wrong extinguisher","changes":[{"itemId":"\#(check)","answer":{"optionIds":["pass"]},"comment":""}]}"#,
                as: tenant.admin)
            #expect(cleared.status == .created, "\(cleared.text)")
            #expect(try cleared.json()["submission"]?["findings"]?.arrayValue.isEmpty == true)
            #expect(try cleared.json()["submission"]?["responses"]?[0]?["comment"] == nil, "an empty comment clears it")
            #expect(try await Self.events(client, finding, as: tenant.admin).contains("finding.withdrawn"))
        }
    }

    @Test("amendments are refused when they do not fit the form, change nothing, leave the item incomplete, or come too late")
    func amendmentRefusals() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], as: tenant.admin)
            let submission = try await ReviewTests.pendingSubmission(client, template: template, by: tenant.admin)
            let item = try #require(try await client.send(.get, "/v1/submissions/\(submission)", as: tenant.admin).json()["responses"]?[0]?["itemId"]?.stringValue)
            let refusals: [(String, String)] = [
                (#"{"reason":"","changes":[{"itemId":"\#(item)","answer":{"optionIds":["fail"]},"comment":"x"}]}"#, "/reason"),
                (#"{"reason":"x","changes":[]}"#, "/changes"),
                (#"{"reason":"x","changes":[{"itemId":"\#(item)","answer":{"optionIds":["maybe"]}}]}"#, "/changes/0/answer"),
                (#"{"reason":"x","changes":[{"itemId":"\#(item)","answer":{"optionIds":["pass"]}}]}"#, "changes nothing"),
                (#"{"reason":"x","changes":[{"itemId":"\#(item)","answer":{"optionIds":["fail"]}}]}"#, "requires a comment"),
                (#"{"reason":"x","changes":[{"itemId":"itm_01HZZZZZZZZZZZZZZZZZZZZZZZ","comment":"x"}]}"#, "not an item"),
                (#"{"reason":"x","changes":[{"itemId":"\#(item)","comment":"x","colour":"red"}]}"#, "colour"),
            ]
            for (body, expected) in refusals {
                let response = try await Self.amend(client, submission, body, as: tenant.admin)
                #expect(response.status == .unprocessableContent && response.text.contains(expected), "\(body): \(response.text)")
            }
            #expect(try await ReviewTests.act(client, .reject, submission, as: tenant.admin).status == .ok)
            let late = try await Self.amend(client, submission, Self.failing(item, comment: "x"), as: tenant.admin)
            #expect(late.status == .conflict && late.text.contains("rework"), "rejected work is reworked, not amended")
            #expect(try await Self.events(client, submission, as: tenant.admin) == ["submission.finalised", "submission.rejected"], "refusals record nothing")
        }
    }

    @Test("amending approved four-eyes work sends it back to review; the operator amends own work, others need submissions.amend")
    func whoMayAmend() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let maker = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil), (BuiltInRole.assigner.id, nil)])
            let colleague = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            let checker = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.reviewer.id, nil)])
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], extra: Self.fourEyes, as: tenant.admin)
            let submission = try await ReviewTests.pendingSubmission(client, template: template, by: maker)
            #expect(try await ReviewTests.act(client, .approve, submission, as: checker).status == .ok)
            let item = try #require(try await client.send(.get, "/v1/submissions/\(submission)", as: checker).json()["responses"]?[0]?["itemId"]?.stringValue)

            let stranger = try await Self.amend(client, submission, Self.failing(item, comment: "x"), as: colleague)
            #expect(stranger.status == .notFound || stranger.status == .forbidden, "\(stranger.text)")
            let own = try await Self.amend(client, submission, Self.failing(item, comment: "Seal missing"), as: maker)
            #expect(own.status == .created, "\(own.text)")
            #expect(try own.json()["submission"]?["approvalStatus"] == "pending_review", "an approval covers what was approved, not the correction")
            #expect(try await Self.events(client, submission, as: tenant.admin).suffix(4) == [
                "submission.amended", "finding.detected", "submission.rescored", "submission.reopened",
            ])
            let byReviewer = try await Self.amend(
                client, submission, #"{"reason":"Typo","changes":[{"itemId":"\#(item)","comment":"Seal is missing"}]}"#, as: checker)
            #expect(byReviewer.status == .created, "reviewers hold submissions.amend: \(byReviewer.text)")

            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            #expect(try await Self.amend(client, submission, Self.failing(item, comment: "x"), as: other.admin).status == .notFound)
            #expect(try await client.send(.get, "/v1/submissions/\(submission)/history", as: other.admin).status == .notFound)
            #expect(try await client.send(.get, "/v1/submissions/\(submission)/history", as: colleague).status == .notFound)
        }
    }

    @Test("a void needs submissions.void and, for high-assurance work, a step-up proof; it is final and stops every later change")
    func voids() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let checker = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.reviewer.id, nil)])
            let strict = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], extra: Self.fourEyes, as: tenant.admin)
            let submission = try await ReviewTests.pendingSubmission(client, template: strict, by: tenant.admin)
            let stored = try await Self.storedRecord(submission)

            let reviewer = try await Self.void(client, submission, as: checker)
            #expect(reviewer.status == .forbidden && reviewer.text.contains("submissions.void"))
            let bare = try await Self.void(client, submission, as: tenant.admin)
            #expect(bare.status == .forbidden)
            #expect(try bare.json()["type"]?.stringValue == "urn:evalium:problem:step-up-required")
            let proof = try await Self.stepUp(client, as: tenant.admin)
            let voided = try await Self.void(client, submission, as: tenant.admin, headers: proof)
            #expect(voided.status == .ok, "\(voided.text)")
            #expect(try voided.json()["void"]?["stepUp"]?["method"] == "totp")
            #expect(try voided.json()["void"]?["reason"] == "Recorded against the wrong site")
            #expect(try await Self.storedRecord(submission) == stored, "a void changes no stored byte of the record")

            #expect(try await Self.void(client, submission, as: tenant.admin, headers: proof).status == .conflict, "a void is final")
            #expect(try await ReviewTests.act(client, .approve, submission, as: checker).status == .conflict)
            #expect(try await Self.amend(client, submission, Self.failing("itm_01HZZZZZZZZZZZZZZZZZZZZZZZ", comment: "x"), as: tenant.admin).status == .conflict)
            let queue = try await client.send(.get, "/v1/review-queue", as: checker).json()["items"]?.arrayValue ?? []
            #expect(!queue.contains { $0["id"]?.stringValue == submission }, "voided work leaves the review queue")
            let listed = try await client.send(.get, "/v1/submissions?voided=true", as: checker).json()["items"]?.arrayValue ?? []
            #expect(listed.map { $0["id"]?.stringValue } == [submission] && listed.first?["voided"] == true)

            let relaxed = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], as: tenant.admin)
            let plain = try await ReviewTests.pendingSubmission(client, template: relaxed, by: tenant.admin)
            #expect(try await Self.void(client, plain, as: tenant.admin).status == .ok, "self-approved L1 work is voided without step-up")
            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            #expect(try await Self.void(client, plain, as: other.admin).status == .notFound)
        }
    }

    @Test("two voids and an amendment of one submission at once: one void wins, the chain stays ordered")
    func concurrentCorrections() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], as: tenant.admin)
            let submission = try await ReviewTests.pendingSubmission(client, template: template, by: tenant.admin)
            let admin = tenant.admin
            async let first = Self.void(client, submission, as: admin)
            async let second = Self.void(client, submission, as: admin)
            let statuses = try await [first.status.code, second.status.code].sorted()
            #expect(statuses == [200, 409])
            #expect(try await Self.events(client, submission, as: tenant.admin).filter { $0 == "submission.voided" }.count == 1)
        }
    }

    @Test("the client portal shows an approved submission with its amendments crossed out, and nothing else")
    func portalGlassBox() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], as: tenant.admin)
            let submission = try await ReviewTests.pendingSubmission(client, template: template, by: tenant.admin)
            let neighbour = try await ReviewTests.pendingSubmission(client, template: template, by: tenant.admin)
            #expect(try await ReviewTests.act(client, .approve, neighbour, as: tenant.admin).status == .ok)
            let created = try await client.send(
                .post, "/v1/portal-links", json: #"{"scope":{"type":"submission","id":"\#(submission)"}}"#, as: tenant.admin).json()
            let session = try await client.send(
                .post, "/v1/portal/sessions",
                json: #"{"tenantId":"\#(tenant.tenantId)","token":"\#(try #require(created["token"]?.stringValue))"}"#, authenticated: false)
            let bearer: HTTPFields = [.authorization: "Bearer \(try #require(try session.json()["accessToken"]?.stringValue))"]

            let pending = try await client.send(.get, "/v1/portal/submissions/\(submission)", headers: bearer, authenticated: false)
            #expect(pending.status == .notFound, "clients see approved work only")
            #expect(try await client.send(.get, "/v1/portal/submissions", headers: bearer, authenticated: false).json()["items"]?.arrayValue.isEmpty == true)

            #expect(try await ReviewTests.act(client, .approve, submission, as: tenant.admin).status == .ok)
            let item = try #require(try await client.send(.get, "/v1/submissions/\(submission)", as: tenant.admin).json()["responses"]?[0]?["itemId"]?.stringValue)
            #expect(try await Self.amend(client, submission, Self.failing(item, comment: "Seal missing"), as: tenant.admin).status == .created)
            #expect(try await ReviewTests.act(client, .approve, submission, as: tenant.admin).status == .ok)

            let glassBox = try await client.send(.get, "/v1/portal/submissions/\(submission)", headers: bearer, authenticated: false)
            #expect(glassBox.status == .ok, "\(glassBox.text)")
            let body = try glassBox.json()
            #expect(body["submission"]?["disclosure"] == "item_results" && body["submission"]?["answerKeys"] == nil)
            #expect(body["history"]?["amendments"]?[0]?["changes"]?[0]?["before"]?["answer"]?["optionIds"]?[0] == "pass")
            #expect(body["history"]?["current"]?[0]?["answer"]?["optionIds"]?[0] == "fail")
            let listed = try await client.send(.get, "/v1/portal/submissions", headers: bearer, authenticated: false).json()["items"]?.arrayValue ?? []
            #expect(listed.map { $0["id"]?.stringValue } == [submission], "row-level security narrows the link to its one submission")
            #expect(try await client.send(.get, "/v1/portal/submissions/\(neighbour)", headers: bearer, authenticated: false).status == .forbidden)
            #expect(try await client.send(.get, "/v1/submissions/\(submission)/history", headers: bearer, authenticated: false).status == .forbidden)
        }
    }

    @Test("done when: an observation is reviewed under four-eyes, rejected, reworked, approved, amended and voided; the history tells it in order")
    func wholeStory() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let inspector = try await TestEnvironment.makeUser(
                client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil), (BuiltInRole.assigner.id, nil), (BuiltInRole.reviewer.id, nil)])
            let reviewer = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.reviewer.id, nil)])
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.check], extra: Self.fourEyes, as: tenant.admin)
            let first = try await ReviewTests.pendingSubmission(client, template: template, by: inspector)
            #expect(try await ReviewTests.act(client, .approve, first, as: inspector).status == .forbidden, "four-eyes: not by its author")
            #expect(try await ReviewTests.act(client, .reject, first, as: reviewer).status == .ok)

            let rework = try await client.send(.post, "/v1/submissions/\(first)/rework", as: inspector).json()
            let sessionId = try #require(rework["session"]?["id"]?.stringValue)
            let item = try #require(Delivery.items(rework).first)
            _ = try await Delivery.answer(client, sessionId, item, #"{"answer":{"optionIds":["pass"]}}"#, as: inspector)
            let second = try #require(try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: inspector).json()["id"]?.stringValue)
            #expect(try await ReviewTests.act(client, .approve, second, as: reviewer).status == .ok)
            #expect(try await Self.amend(client, second, Self.failing(item, comment: "Seal missing on re-check"), as: inspector).status == .created)
            #expect(try await ReviewTests.act(client, .approve, second, as: reviewer).status == .ok)
            let voided = try await Self.void(client, second, as: tenant.admin, headers: try await Self.stepUp(client, as: tenant.admin))
            #expect(voided.status == .ok, "\(voided.text)")

            let history = try await client.send(.get, "/v1/submissions/\(second)/history", as: reviewer).json()
            let story = (history["timeline"]?.arrayValue ?? []).compactMap { $0["eventType"]?.stringValue }
            #expect(story == [
                "submission.finalised", "submission.approved", "submission.amended", "finding.detected", "submission.rescored",
                "submission.reopened", "submission.approved", "submission.voided",
            ], "\(story)")
            #expect(history["replaces"]?.stringValue == first && history["void"]?["voidedBy"]?.stringValue == tenant.admin.userId.rawValue)
            #expect(history["original"]?[0]?["answer"]?["optionIds"]?[0] == "pass" && history["current"]?[0]?["answer"]?["optionIds"]?[0] == "fail")
            let earlier = try await client.send(.get, "/v1/submissions/\(first)/history", as: reviewer).json()
            #expect(earlier["replacedBy"]?.arrayValue.map(\.stringValue) == [second])
            #expect((earlier["timeline"]?.arrayValue ?? []).compactMap { $0["eventType"]?.stringValue } == [
                "submission.finalised", "submission.approval.refused", "submission.rejected",
            ])

            _ = try await server.database.sealPendingLedgerEvents()
            let verification = try await client.send(.get, "/v1/ledger/verification", as: tenant.admin).json()
            #expect(verification["verified"] == true, "\(verification)")
        }
    }
}
