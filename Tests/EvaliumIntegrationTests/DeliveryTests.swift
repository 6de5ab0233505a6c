@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Execution: assignments, sessions and the durable submission", .timeLimit(.minutes(2)))
struct DeliveryTests {
    static let numeric = #"{"kind":"numeric","content":{"prompt":"Gauge pressure in bar","answerKey":{"number":12,"tolerance":0.5}}}"#
    static let majorFinding: String = #"""
        {"kind":"rubric","content":{"prompt":"Extinguisher is charged and sealed",
         "options":[{"id":"pass","label":"Pass","points":1},
                    {"id":"fail","label":"Fail","points":0,"finding":true,"severity":"major","requiresComment":true}]}}
        """#

    @Test("a full knowledge attempt runs end to end over HTTP; the ledger shows its finalisation and the chain verifies")
    func knowledgeAttemptEndToEnd() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let operatorPerson = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            let quiz = try await Delivery.publishedEvaluation(
                client, kind: .knowledge, questions: [Authoring.quizQuestion, Self.numeric], extra: #","grading":{"passThreshold":0.6}"#,
                as: tenant.admin)
            let assignment = try await Delivery.assign(
                client, #"{"evaluationId":"\#(quiz)","target":{"userId":"\#(operatorPerson.userId)"},"cohort":"Induction 2026"}"#, as: tenant.admin)
            let assignmentId = try #require(assignment["id"]?.stringValue)
            #expect(assignment["policy"]?["approvalRequired"] == false)

            let mine = try await client.send(.get, "/v1/my/assignments", as: operatorPerson).json()
            #expect(mine["items"]?.arrayValue.map { $0["id"]?.stringValue } == [assignmentId])
            let launched = try await client.send(.post, "/v1/assignments/\(assignmentId)/sessions", as: operatorPerson)
            #expect(launched.status == .created)
            #expect(!launched.text.contains("correctOptionIds") && !launched.text.contains("answerKey"), "the operator's form carries no answer key")
            let session = try launched.json()
            let sessionId = try #require(session["session"]?["id"]?.stringValue)
            let items = Delivery.items(session)
            #expect(items.count == 2)
            let first = try await Delivery.answer(
                client, sessionId, items[0], #"{"answer":{"optionIds":["b"]},"clientTimestamp":"2026-11-22T09:00:00.000Z"}"#, as: operatorPerson)
            #expect(first.status == .ok, "\(first.text)")
            #expect(try first.json()["complete"] == true)
            let wrongShape = try await Delivery.answer(client, sessionId, items[1], #"{"answer":{"optionIds":["b"]}}"#, as: operatorPerson)
            #expect(wrongShape.status == .unprocessableContent)
            #expect(try await Delivery.answer(client, sessionId, items[1], #"{"answer":{"number":12.3}}"#, as: operatorPerson).status == .ok)

            let submitted = try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: operatorPerson)
            #expect(submitted.status == .created, "\(submitted.text)")
            // The submit's answer splices the form too: the same bytes as the whole view encoded at once.
            let submittedView = try WireJSON.makeDecoder().decode(SubmissionView.self, from: Data(submitted.text.utf8))
            #expect(submitted.text == String(decoding: try WireJSON.makeEncoder().encode(submittedView), as: UTF8.self))
            let submission = try submitted.json()
            let submissionId = try #require(submission["id"]?.stringValue)
            #expect(submission["outcome"] == "pass" && submission["approvalStatus"] == "approved")
            #expect(submission["score"]?["scaledScore"] == 1 && submission["score"]?["maxScore"] == 3)
            #expect(submission["items"] == nil, "operators see the score, not item results, by default for knowledge checks")
            #expect(submission["cohort"] == "Induction 2026")

            let read = try await client.send(.get, "/v1/submissions/\(submissionId)", as: tenant.admin).json()
            #expect(read["items"]?.arrayValue.count == 2 && read["answerKeys"]?.arrayValue.count == 2, "administrators see everything")
            // Reads splice the form's bytes, encoded once, into the rest of the view: a miss and a hit both give
            // exactly the bytes of the whole view encoded at once.
            for _ in 0..<2 {
                let raw = try await client.send(.get, "/v1/submissions/\(submissionId)", as: tenant.admin).text
                let view = try WireJSON.makeDecoder().decode(SubmissionView.self, from: Data(raw.utf8))
                #expect(raw == String(decoding: try WireJSON.makeEncoder().encode(view), as: UTF8.self))
                #expect(view.form.sections.flatMap(\.items).count == 2)
            }
            // Reads are planned once per connection and the plan is kept: a dozen reads later, another tenant's
            // administrator still finds nothing, and the owner's reads still see it.
            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            for _ in 0..<12 {
                #expect(try await client.send(.get, "/v1/submissions/\(submissionId)", as: tenant.admin).status == .ok)
                #expect(try await client.send(.get, "/v1/submissions/\(submissionId)", as: other.admin).status == .notFound)
            }
            let events = try await Delivery.events(client, about: submissionId, as: tenant.admin)
            let types = events.compactMap { $0["eventType"]?.stringValue }
            #expect(types.contains("submission.finalised") && types.contains("submission.viewed"), "\(types)")
            let finalised = events.first { $0["eventType"] == "submission.finalised" }
            #expect(finalised?["payload"]?["outcome"] == "pass" && finalised?["verificationLevel"] == "L1")
            let verification = try await client.send(.get, "/v1/ledger/verification", as: tenant.admin).json()
            #expect(verification["verified"] == true, "\(verification)")
        }
    }

    @Test("a session started on one server is submitted and shown on another, whose cache of frozen content starts empty")
    func submitOnAnotherServer() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let operatorPerson = try await TestEnvironment.makeUser(
                client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil), (BuiltInRole.assigner.id, nil)])
            let quiz = try await Delivery.publishedEvaluation(
                client, kind: .knowledge, questions: [Self.numeric], extra: #","grading":{"passThreshold":0.6}"#, as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: quiz, as: operatorPerson)
            let item = try #require(started.items.first)
            #expect(try await Delivery.answer(client, started.sessionId, item, #"{"answer":{"number":12}}"#, as: operatorPerson).status == .ok)

            try await TestEnvironment.withServer(configure: { $0.auth.keys = server.configuration.auth.keys }) { other, _ in
                let submitted = try await other.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: operatorPerson)
                #expect(submitted.status == .created, "\(submitted.text)")
                let submission = try submitted.json()
                #expect(submission["outcome"] == "pass" && submission["assignmentId"]?.stringValue == started.assignmentId)
                let shown = try await other.send(.get, "/v1/sessions/\(started.sessionId)", as: operatorPerson)
                #expect(shown.status == .ok, "\(shown.text)")
                #expect(try shown.json()["session"]?["submissionId"] == submission["id"])
            }
        }
    }

    @Test("a submission read checks the session in its own statements: an out-of-date token, an ended session or a colleague out of reach reads and records nothing; a server that does not hold the content yet shows the whole view")
    func readChecksTheSession() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let operatorPerson = try await TestEnvironment.makeUser(
                client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil), (BuiltInRole.assigner.id, nil)])
            let colleague = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            let quiz = try await Delivery.publishedEvaluation(
                client, kind: .knowledge, questions: [Self.numeric], extra: #","grading":{"passThreshold":0.6}"#, as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: quiz, as: operatorPerson)
            let item = try #require(started.items.first)
            #expect(try await Delivery.answer(client, started.sessionId, item, #"{"answer":{"number":12}}"#, as: operatorPerson).status == .ok)
            let submitted = try await client.send(.post, "/v1/sessions/\(started.sessionId)/submit", as: operatorPerson)
            let submissionId = try #require(try submitted.json()["id"]?.stringValue)

            let own = try await client.send(.get, "/v1/submissions/\(submissionId)", as: operatorPerson)
            #expect(own.status == .ok && own.text == submitted.text, "the operator's read shows what the submit answered")
            #expect(try await client.send(.get, "/v1/submissions/\(submissionId)", as: colleague).status == .notFound)
            let asAdministrator = try await client.send(.get, "/v1/submissions/\(submissionId)", as: tenant.admin)
            #expect(asAdministrator.status == .ok)
            try await TestEnvironment.withServer(configure: { $0.auth.keys = server.configuration.auth.keys }) { other, _ in
                let cold = try await other.send(.get, "/v1/submissions/\(submissionId)", as: tenant.admin)
                #expect(cold.status == .ok && cold.text == asAdministrator.text, "\(cold.text)")
            }

            try await TestEnvironment.expectReadRefusedOnceSessionChanges(
                client, "/v1/submissions/\(submissionId)", reader: operatorPerson, in: tenant)

            let viewed = try await TestEnvironment.ledgerEvents(server, tenant.tenantId).filter { $0.eventType == "submission.viewed" }
            #expect(
                viewed.map(\.actor.id) == [operatorPerson.userId, tenant.admin.userId, tenant.admin.userId].map(\.rawValue),
                "only the reads that were answered are recorded")
        }
    }

    @Test("the stand-in form is found where it first occurs, after near misses, at either end, or not at all")
    func standInSearch() {
        func offset(_ needle: String, _ haystack: String) -> Int? { SubmissionViewEncoder.offset(of: Array(needle.utf8), in: Array(haystack.utf8)) }
        let standIn = #"{"sections":[],"title":"m"}"#
        #expect(offset(standIn, #"{"a":{"sections":[],"title":"n"},"form":\#(standIn),"z":{"sections":[]}}"#) == 40)
        #expect(offset(standIn, standIn) == 0)
        #expect(offset(standIn, "[1," + standIn) == 3)
        #expect(offset(standIn, #"{"form":{"sections":[],"title":"m"]"#) == nil)
        #expect(offset(standIn, "{") == nil)
    }

    @Test("statements planned once per connection take NULL at their first run and values after it")
    func plannedStatementsTakeNullThenValues() async throws {
        // One connection, so every request below runs its statements where they were first planned; the
        // server's own background work (no tenant, no person) ran the scope statement with NULLs before them.
        try await TestEnvironment.withServer(connections: 1) { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let operatorPerson = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            let quiz = try await Delivery.publishedEvaluation(
                client, kind: .knowledge, questions: [Self.numeric, Self.numeric], extra: #","grading":{"passThreshold":0.5}"#, as: tenant.admin)
            let assignment = try await Delivery.assign(
                client, #"{"evaluationId":"\#(quiz)","target":{"userId":"\#(operatorPerson.userId)"}}"#, as: tenant.admin)
            let session = try await Delivery.launch(client, try #require(assignment["id"]?.stringValue), as: operatorPerson)
            let sessionId = try #require(session["session"]?["id"]?.stringValue)
            let items = Delivery.items(session)

            let bare = try await Delivery.answer(client, sessionId, items[0], #"{"answer":{"number":12}}"#, as: operatorPerson)
            #expect(bare.status == .ok, "\(bare.text)")
            let full = try await Delivery.answer(
                client, sessionId, items[1],
                #"{"answer":{"number":12.2},"comment":"read twice","clientTimestamp":"2026-11-22T09:00:00.000Z","context":{"gauge":"G-7"}}"#,
                as: operatorPerson)
            #expect(full.status == .ok, "\(full.text)")
            #expect(try await Delivery.answer(client, sessionId, items[0], #"{"answer":{"number":11.9}}"#, as: operatorPerson).status == .ok)

            let submitted = try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: operatorPerson, headers: [.idempotencyKey: "first-submit"])
            #expect(submitted.status == .created, "\(submitted.text)")
            let submissionId = try #require(try submitted.json()["id"]?.stringValue)
            let read = try await client.send(.get, "/v1/submissions/\(submissionId)", as: tenant.admin).json()
            let answers = read["responses"]?.arrayValue ?? []
            #expect(answers.first { $0["itemId"]?.stringValue == items[1] }?["comment"] == "read twice", "\(read)")
            #expect(answers.first { $0["itemId"]?.stringValue == items[1] }?["context"]?["gauge"] == "G-7", "\(read)")
            #expect(answers.first { $0["itemId"]?.stringValue == items[0] }?["comment"] == nil, "\(read)")
        }
    }

    @Test("a full observation of two subjects with a major finding and its comment; findings with subjects reach the ledger")
    func observationEndToEnd() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let inspector = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            let extinguisher = try await Delivery.subject(
                client,
                #"{"type":"asset","displayName":"Extinguisher EXT-0042","externalRef":"EXT-0042","asset":{"assetType":"fire_extinguisher","identifiers":{"serialNumber":"EXT-0042"}}}"#,
                as: tenant.admin)
            let warehouse = try await Delivery.subject(client, #"{"type":"location","displayName":"Warehouse 3","externalRef":"WH-3"}"#, as: tenant.admin)
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.majorFinding], as: tenant.admin)
            let assignment = try await Delivery.assign(
                client,
                #"{"evaluationId":"\#(template)","target":{"userId":"\#(inspector.userId)"},"subjects":[{"subjectId":"\#(extinguisher)","role":"primary"},{"subjectId":"\#(warehouse)","role":"secondary"}]}"#,
                as: tenant.admin)
            let session = try await Delivery.launch(client, try #require(assignment["id"]?.stringValue), as: inspector)
            #expect(session["subjects"]?.arrayValue.count == 2)
            let sessionId = try #require(session["session"]?["id"]?.stringValue)
            let item = try #require(Delivery.items(session).first)

            let bare = try await Delivery.answer(client, sessionId, item, #"{"answer":{"optionIds":["fail"]}}"#, as: inspector)
            #expect(try bare.json()["complete"] == false)
            let blocked = try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: inspector)
            #expect(blocked.status == .unprocessableContent)
            #expect(try blocked.json()["errors"]?[0]?["detail"]?.stringValue?.contains("comment") == true)

            let commented = try await Delivery.answer(
                client, sessionId, item, #"{"answer":{"optionIds":["fail"]},"comment":"Gauge in the red; tagged out of service"}"#, as: inspector)
            #expect(try commented.json()["complete"] == true)
            let submitted = try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: inspector)
            #expect(submitted.status == .created, "\(submitted.text)")
            let submission = try submitted.json()
            let submissionId = try #require(submission["id"]?.stringValue)
            #expect(submission["approvalStatus"] == "pending_review" && submission["outcome"] == "fail")
            #expect(Set(submission["subjects"]?.arrayValue.compactMap { $0["role"]?.stringValue } ?? []) == ["primary", "secondary"])

            let events = try await Delivery.events(client, about: submissionId, as: tenant.admin)
            let finding = try #require(events.first { $0["eventType"] == "finding.detected" })
            #expect(finding["payload"]?["severity"] == "major")
            #expect(Set(finding["payload"]?["subjectIds"]?.arrayValue.compactMap(\.stringValue) ?? []) == [extinguisher.rawValue, warehouse.rawValue])
            let review = try await client.send(.get, "/v1/submissions/\(submissionId)", as: tenant.admin).json()
            #expect(review["findings"]?.arrayValue.count == 1)
            #expect(review["responses"]?[0]?["comment"] == "Gauge in the red; tagged out of service")
            #expect(try await client.send(.get, "/v1/ledger/verification", as: tenant.admin).json()["verified"] == true)
        }
    }

    @Test("a finding that requires evidence blocks completion until evidence is attached")
    func evidenceRequirementBlocks() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Authoring.rubricCheck], as: tenant.admin)
            let assignment = try await Delivery.assign(client, #"{"evaluationId":"\#(template)","target":{"userId":"\#(tenant.admin.userId)"}}"#, as: tenant.admin)
            let session = try await Delivery.launch(client, try #require(assignment["id"]?.stringValue), as: tenant.admin)
            let sessionId = try #require(session["session"]?["id"]?.stringValue)
            let item = try #require(Delivery.items(session).first)
            let recorded = try await Delivery.answer(client, sessionId, item, #"{"answer":{"optionIds":["fail"]},"comment":"Seal broken"}"#, as: tenant.admin)
            #expect(try recorded.json()["missing"]?.arrayValue.contains { $0.stringValue?.contains("evidence") == true } == true)
            let blocked = try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: tenant.admin)
            #expect(blocked.status == .unprocessableContent)
            #expect(try await Delivery.answer(client, sessionId, item, #"{"answer":{"optionIds":["pass"]}}"#, as: tenant.admin).status == .ok)
            #expect(try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: tenant.admin).status == .created)
        }
    }

    @Test("an external inspector sees a subject of another org unit only through the assignment")
    func externalInspectorSubjectVisibility() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let north = try await TestEnvironment.makeOrgUnit(server, tenantId: tenant.tenantId, name: "North")
            let south = try await TestEnvironment.makeOrgUnit(server, tenantId: tenant.tenantId, name: "South")
            let inspector = try await TestEnvironment.makeUser(
                client, server, in: tenant, roles: [(BuiltInRole.inspector.id, north)], homeOrgUnit: north)
            let subject = try await Delivery.subject(
                client,
                #"{"type":"asset","displayName":"South depot pump","externalRef":"SD-1","orgUnitId":"\#(south)","asset":{"assetType":"pump","identifiers":{"serialNumber":"P-77"}}}"#,
                as: tenant.admin)
            let visible = {
                try await TestEnvironment.sql(
                    "BEGIN",
                    "SELECT set_config('app.tenant_id', '\(tenant.tenantId)', true), set_config('app.org_unit_ids', '\(north)', true), set_config('app.user_id', '\(inspector.userId)', true)",
                    "SELECT count(*)::text FROM subjects WHERE id = '\(subject)'", as: TestEnvironment.application)
            }
            #expect(try await visible() == [["0"]], "not visible before any assignment")
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.majorFinding], as: tenant.admin)
            let assignment = try await Delivery.assign(
                client,
                #"{"evaluationId":"\#(template)","orgUnitId":"\#(south)","target":{"userId":"\#(inspector.userId)"},"subjects":[{"subjectId":"\#(subject)","role":"primary"}]}"#,
                as: tenant.admin)
            #expect(try await visible() == [["1"]], "visible through the assignment")
            let session = try await Delivery.launch(client, try #require(assignment["id"]?.stringValue), as: inspector)
            #expect(session["subjects"]?[0]?["displayName"] == "South depot pump")
            #expect(session["subjects"]?[0]?["asset"]?["identifiers"]?["serialNumber"] == "P-77", "with its asset details")
            let sessionId = try #require(session["session"]?["id"]?.stringValue)
            _ = try await Delivery.answer(client, sessionId, try #require(Delivery.items(session).first), #"{"answer":{"optionIds":["pass"]}}"#, as: inspector)
            let submitted = try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: inspector)
            #expect(submitted.status == .created, "\(submitted.text)")
            #expect(try submitted.json()["orgUnitId"]?.stringValue == south.rawValue, "the work belongs to the assignment's org unit")
        }
    }

    @Test("the batch helper issues one assignment per subject; each submission carries the shared batch id and its subject")
    func batchAssignments() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            var subjects: [SubjectID] = []
            for number in 1...3 {
                subjects.append(try await Delivery.subject(
                    client, #"{"type":"asset","displayName":"Desk \#(number)","externalRef":"DESK-\#(number)","asset":{"assetType":"desk"}}"#,
                    as: tenant.admin))
            }
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.majorFinding], as: tenant.admin)
            let list = subjects.map { "\"\($0)\"" }.joined(separator: ",")
            let response = try await client.send(
                .post, "/v1/assignments/batch",
                json: #"{"evaluationId":"\#(template)","target":{"userId":"\#(tenant.admin.userId)"},"subjectIds":[\#(list)],"cohort":"Site visit"}"#,
                as: tenant.admin)
            #expect(response.status == .created, "\(response.text)")
            let batch = try response.json()
            let batchId = try #require(batch["batchId"]?.stringValue)
            let assignments = batch["items"]?.arrayValue ?? []
            #expect(assignments.count == 3 && assignments.allSatisfy { $0["batchId"]?.stringValue == batchId })
            let listed = try await client.send(.get, "/v1/assignments?batchId=\(batchId)", as: tenant.admin).json()
            #expect(listed["items"]?.arrayValue.count == 3)

            for (index, assignment) in assignments.prefix(2).enumerated() {
                let session = try await Delivery.launch(client, try #require(assignment["id"]?.stringValue), as: tenant.admin)
                let sessionId = try #require(session["session"]?["id"]?.stringValue)
                _ = try await Delivery.answer(client, sessionId, try #require(Delivery.items(session).first), #"{"answer":{"optionIds":["pass"]}}"#, as: tenant.admin)
                let submission = try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: tenant.admin).json()
                #expect(submission["batchId"]?.stringValue == batchId)
                #expect(submission["subjects"]?.arrayValue.map { $0["subjectId"]?.stringValue } == [subjects[index].rawValue])
            }
        }
    }

    @Test("launching respects the attempt limit, the availability window, the offline policy and the target")
    func launchRules() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let other = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            let quiz = try await Delivery.publishedEvaluation(
                client, kind: .knowledge, questions: [Self.numeric], extra: #","grading":{"passThreshold":0.5}"#, as: tenant.admin)
            let me = tenant.admin.userId
            let once = try #require(try await Delivery.assign(
                client, #"{"evaluationId":"\#(quiz)","target":{"userId":"\#(me)"},"overrides":{"maxAttempts":1}}"#, as: tenant.admin)["id"]?.stringValue)
            #expect(try await client.send(.post, "/v1/assignments/\(once)/sessions", as: other).status == .forbidden, "issued to someone else")
            let offline = try await client.send(.post, "/v1/assignments/\(once)/sessions", json: #"{"mode":"offline"}"#, as: tenant.admin)
            #expect(offline.status == .conflict && offline.text.contains("online"))
            let session = try await Delivery.launch(client, once, as: tenant.admin)
            let sessionId = try #require(session["session"]?["id"]?.stringValue)
            let key: HTTPFields = [.idempotencyKey: "resume-\(sessionId)"]
            let again = try await client.send(.post, "/v1/assignments/\(once)/sessions", as: tenant.admin, headers: key)
            let resumed = try again.json()["session"]?["id"]?.stringValue
            #expect(again.status == .ok && resumed == sessionId, "the active attempt is resumed")
            let replayed = try await client.send(.post, "/v1/assignments/\(once)/sessions", as: tenant.admin, headers: key)
            #expect(replayed.status == .ok && replayed.headers[.idempotentReplayed] == "true", "a replay answers as the first request did")
            _ = try await Delivery.answer(client, sessionId, try #require(Delivery.items(session).first), #"{"answer":{"number":3}}"#, as: tenant.admin)
            #expect(try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: tenant.admin).status == .created)
            let exhausted = try await client.send(.post, "/v1/assignments/\(once)/sessions", as: tenant.admin)
            #expect(exhausted.status == .conflict && exhausted.text.contains("attempt"))

            let later = ServerClock.now().addingTimeInterval(3600).rfc3339
            let future = try #require(try await Delivery.assign(
                client, #"{"evaluationId":"\#(quiz)","target":{"userId":"\#(me)"},"availableFrom":"\#(later)"}"#, as: tenant.admin)["id"]?.stringValue)
            let early = try await client.send(.post, "/v1/assignments/\(future)/sessions", as: tenant.admin)
            #expect(early.status == .conflict && early.text.contains("opens"))
            let past = ServerClock.now().addingTimeInterval(-60).rfc3339
            let closed = try #require(try await Delivery.assign(
                client, #"{"evaluationId":"\#(quiz)","target":{"userId":"\#(me)"},"availableUntil":"\#(past)"}"#, as: tenant.admin)["id"]?.stringValue)
            let late = try await client.send(.post, "/v1/assignments/\(closed)/sessions", as: tenant.admin)
            #expect(late.status == .conflict && late.text.contains("closed"))

            #expect(try await client.send(.post, "/v1/assignments/\(future)/withdraw", as: tenant.admin).status == .ok)
            let withdrawn = try await client.send(.post, "/v1/assignments/\(future)/sessions", as: tenant.admin)
            #expect(withdrawn.status == .conflict && withdrawn.text.contains("withdrawn"))
        }
    }

    @Test("twenty parallel retries of one submit yield exactly one submission")
    func parallelSubmitsMakeOneSubmission() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let quiz = try await Delivery.publishedEvaluation(
                client, kind: .knowledge, questions: [Self.numeric], extra: #","grading":{"passThreshold":0.5}"#, as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: quiz, as: tenant.admin)
            let (session, sessionId) = (started.body, started.sessionId)
            _ = try await Delivery.answer(client, sessionId, try #require(Delivery.items(session).first), #"{"answer":{"number":12}}"#, as: tenant.admin)
            let admin = tenant.admin
            let results = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        let response = try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: admin)
                        return (Int(response.status.code), try? response.json()["id"]?.stringValue)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { $0.0 == 201 }.count == 1, "\(results.map(\.0))")
            #expect(results.allSatisfy { $0.0 == 201 || $0.0 == 200 }, "\(results.map(\.0))")
            #expect(Set(results.compactMap(\.1)).count == 1)
            let count = try await TestEnvironment.sql(
                "SELECT count(*)::text FROM submissions WHERE session_id = '\(sessionId)'", as: TestEnvironment.superuser)
            #expect(count == [["1"]])
        }
    }

    @Test("a failure in the middle of finalisation leaves no submission, no linked item and no ledger event")
    func failedFinalisationLeavesNothing() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let subject = try await Delivery.subject(client, #"{"type":"location","displayName":"Dock","externalRef":"DOCK"}"#, as: tenant.admin)
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.majorFinding], as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: template, subjects: [subject], as: tenant.admin)
            let (session, sessionId) = (started.body, started.sessionId)
            _ = try await Delivery.answer(
                client, sessionId, try #require(Delivery.items(session).first), #"{"answer":{"optionIds":["fail"]},"comment":"Broken"}"#, as: tenant.admin)
            // Break the subject link behind the database's back (a superuser with constraint triggers off), so
            // finalisation fails after it has written the submission and linked the items, when it links the
            // subjects. No schema change: other tests keep running undisturbed.
            let moveSubject = { (tenantId: String) in
                _ = try await TestEnvironment.sql(
                    "SET session_replication_role = replica", "UPDATE subjects SET tenant_id = '\(tenantId)' WHERE id = '\(subject)'",
                    as: TestEnvironment.superuser)
            }
            try await moveSubject("tnt_00000000000000000000000000")
            let failed = try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: tenant.admin)
            try await moveSubject(tenant.tenantId.rawValue)
            #expect(failed.status.code >= 400 && failed.status.code < 500, "\(failed.text)")

            let left = try await TestEnvironment.sql(
                """
                SELECT (SELECT count(*) FROM submissions WHERE session_id = '\(sessionId)')::text,
                       (SELECT count(*) FROM submission_items WHERE session_id = '\(sessionId)' AND submission_id IS NOT NULL)::text,
                       (SELECT count(*) FROM ledger_events WHERE tenant_id = '\(tenant.tenantId)' AND event_type IN ('submission.finalised', 'finding.detected'))::text,
                       (SELECT status FROM delivery_sessions WHERE id = '\(sessionId)')
                """,
                as: TestEnvironment.superuser)
            #expect(left == [["0", "0", "0", "active"]])
            #expect(try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: tenant.admin).status == .created, "a retry succeeds")
        }
    }

    @Test("a finalised submission cannot be changed through the API nor by SQL as the application role")
    func finalisedSubmissionIsImmutable() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let subject = try await Delivery.subject(client, #"{"type":"location","displayName":"Yard","externalRef":"YARD"}"#, as: tenant.admin)
            let template = try await Delivery.publishedEvaluation(client, kind: .observation, questions: [Self.majorFinding], as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: template, subjects: [subject], as: tenant.admin)
            let (session, sessionId) = (started.body, started.sessionId)
            let item = try #require(Delivery.items(session).first)
            _ = try await Delivery.answer(client, sessionId, item, #"{"answer":{"optionIds":["pass"]}}"#, as: tenant.admin)
            let submissionId = try #require(
                try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: tenant.admin).json()["id"]?.stringValue)

            let change = try await Delivery.answer(client, sessionId, item, #"{"answer":{"optionIds":["fail"]},"comment":"late"}"#, as: tenant.admin)
            #expect(change.status == .conflict)
            let scope = "SELECT set_config('app.tenant_id', '\(tenant.tenantId)', true), set_config('app.org_scope_all', 'true', true)"
            for attack in [
                "UPDATE submissions SET outcome = 'fail' WHERE id = '\(submissionId)'",
                "UPDATE submissions SET snapshot = '{}' WHERE id = '\(submissionId)'",
                "DELETE FROM submissions WHERE id = '\(submissionId)'",
                "UPDATE submission_items SET answer = '{\"optionIds\":[\"fail\"]}' WHERE session_id = '\(sessionId)'",
                "DELETE FROM submission_items WHERE session_id = '\(sessionId)'",
                "DELETE FROM submission_subjects WHERE submission_id = '\(submissionId)'",
                "UPDATE delivery_sessions SET submission_id = NULL, status = 'active' WHERE id = '\(sessionId)'",
            ] {
                await #expect(throws: (any Error).self, "\(attack)") {
                    let rows = try await TestEnvironment.sql("BEGIN", scope, attack + " RETURNING 1", as: TestEnvironment.application)
                    if rows.isEmpty { throw CancellationError() }  // a statement that touched nothing is a refusal too
                }
            }
            let view = try await client.send(.get, "/v1/submissions/\(submissionId)", as: tenant.admin).json()
            #expect(view["responses"]?[0]?["answer"]?["optionIds"]?[0] == "pass")
        }
    }

    @Test("an item awaiting a person is graded by another reviewer; the new outcome is a ledger event, not an edit; bystanders see nothing")
    func humanGrading() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let essay = #"{"kind":"short_text","content":{"prompt":"Describe the PASS technique","points":4,"text":{"grading":"person"}}}"#
            let quiz = try await Delivery.publishedEvaluation(
                client, kind: .knowledge, questions: [essay], extra: #","grading":{"passThreshold":0.5}"#, as: tenant.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: quiz, as: tenant.admin)
            let (session, sessionId) = (started.body, started.sessionId)
            let item = try #require(Delivery.items(session).first)
            _ = try await Delivery.answer(client, sessionId, item, #"{"answer":{"text":"Pull, aim, squeeze, sweep"}}"#, as: tenant.admin)
            let submission = try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: tenant.admin).json()
            let submissionId = try #require(submission["id"]?.stringValue)
            #expect(submission["outcome"] == "pending")

            let ownWork = try await client.send(.post, "/v1/submissions/\(submissionId)/grades", json: #"{"itemId":"\#(item)","points":4}"#, as: tenant.admin)
            #expect(ownWork.status == .forbidden, "nobody grades their own work")
            let reviewer = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.reviewer.id, nil)])
            let bystander = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil), (BuiltInRole.author.id, nil)])
            #expect(try await client.send(.get, "/v1/submissions/\(submissionId)", as: bystander).status == .notFound, "not theirs, not a reviewer")
            #expect(try await client.send(.get, "/v1/sessions/\(sessionId)", as: bystander).status == .notFound, "nor another person's attempt")
            let tooMany = try await client.send(.post, "/v1/submissions/\(submissionId)/grades", json: #"{"itemId":"\#(item)","points":5}"#, as: reviewer)
            #expect(tooMany.status == .unprocessableContent)
            let graded = try await client.send(
                .post, "/v1/submissions/\(submissionId)/grades", json: #"{"itemId":"\#(item)","points":3,"note":"Missing the distance"}"#, as: reviewer)
            #expect(graded.status == .ok, "\(graded.text)")
            let view = try graded.json()
            #expect(view["outcome"] == "pass" && view["items"]?[0]?["gradedBy"] == "human" && view["items"]?[0]?["correct"] == "partial")
            let types = try await Delivery.events(client, about: submissionId, as: tenant.admin).compactMap { $0["eventType"]?.stringValue }
            #expect(types.contains("submission.pending_human_review") && types.contains("submission.item.graded") && types.contains("submission.rescored"))
            let stored = try await TestEnvironment.sql("SELECT outcome FROM submissions WHERE id = '\(submissionId)'", as: TestEnvironment.superuser)
            #expect(stored == [["pending"]], "the finalised record is never edited")
        }
    }

    @Test("another tenant's assignments, sessions and submissions are invisible")
    func crossTenantExecution() async throws {
        try await TestEnvironment.withServer { client, server in
            let mine = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let theirs = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let quiz = try await Delivery.publishedEvaluation(
                client, kind: .knowledge, questions: [Self.numeric], extra: #","grading":{"passThreshold":0.5}"#, as: theirs.admin)
            let started = try await Delivery.selfAssignedSession(client, evaluation: quiz, as: theirs.admin)
            let (session, sessionId, assignment) = (started.body, started.sessionId, started.assignmentId)
            _ = try await Delivery.answer(client, sessionId, try #require(Delivery.items(session).first), #"{"answer":{"number":12}}"#, as: theirs.admin)
            let submissionId = try #require(try await client.send(.post, "/v1/sessions/\(sessionId)/submit", as: theirs.admin).json()["id"]?.stringValue)

            for (method, path) in [
                (HTTPRequest.Method.get, "/v1/assignments/\(assignment)"), (.post, "/v1/assignments/\(assignment)/sessions"),
                (.get, "/v1/sessions/\(sessionId)"), (.post, "/v1/sessions/\(sessionId)/submit"), (.get, "/v1/submissions/\(submissionId)"),
            ] {
                #expect(try await client.send(method, path, as: mine.admin).status == .notFound, "\(path)")
            }
            let borrowed = try await client.send(
                .post, "/v1/assignments", json: #"{"evaluationId":"\#(quiz)","target":{"userId":"\#(mine.admin.userId)"}}"#, as: mine.admin)
            #expect(borrowed.status == .unprocessableContent, "another tenant's evaluation cannot be assigned")
            let foreignTarget = try await client.send(
                .post, "/v1/assignments", json: #"{"evaluationId":"\#(quiz)","target":{"userId":"\#(mine.admin.userId)"}}"#, as: theirs.admin)
            #expect(foreignTarget.status == .unprocessableContent, "nor issued to another tenant's person")
        }
    }
}

@Suite("Frozen content", .timeLimit(.minutes(2)))
struct FrozenContentTests {
    struct Refused: Error {}

    @Test("content frozen in a transaction that rolled back is stored by the next one to issue it, under the same hash")
    func rolledBackContentIsStoredAgain() async throws {
        try await TestEnvironment.withDatabase { database in
            let tenant = try await TestEnvironment.makeTenant(database)
            let evaluation = try await RowLevelSecurityTests.giveAuthoringRows(to: tenant, database)
            let scope = Scope.tenantWide(tenant.tenant.id)
            let version = try #require(try await database.transaction(scope) { try await $0.fetchEvaluationVersion(evaluation, version: 1) })
            let content = AssignmentContent(evaluation: version, questions: [])
            let undone = try? await database.transaction(scope) { transaction -> FrozenContent in
                _ = try await transaction.freezeContent(content)
                throw Refused()
            }
            #expect(undone == nil)
            let first = try await database.transaction(scope) { try await $0.freezeContent(content) }
            let again = try await database.transaction(scope) { try await $0.freezeContent(content) }
            #expect(first.hash == again.hash)
            let stored = try await TestEnvironment.sql(
                "SELECT count(*)::text FROM frozen_contents WHERE tenant_id = '\(tenant.tenant.id)' AND content_hash = '\(first.hash)'",
                as: TestEnvironment.superuser)
            #expect(stored == [["1"]])
        }
    }
}
