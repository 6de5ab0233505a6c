@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Authoring: versioned, immutable templates for K, O and E", .timeLimit(.minutes(2)))
struct AuthoringTests {
    @Test("an author builds, publishes and previews a quiz, an observation checklist and an evidence task; the ledger shows it")
    func authorBuildsAndPublishesAllThreeKinds() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let author = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.author.id, nil)])

            let quizQuestion = try await Authoring.question(client, Authoring.quizQuestion, as: author)
            let quiz = try await Authoring.evaluation(
                client, kind: .knowledge, questions: [quizQuestion],
                extra: #","grading":{"passThreshold":0.8,"maxAttempts":3,"showCorrectAnswers":"after_attempt"}"#, as: author)
            let check = try await Authoring.question(client, Authoring.rubricCheck, as: author)
            let checklist = try await Authoring.evaluation(
                client, kind: .observation, questions: [check], extra: #","reviewPolicy":"four_eyes""#, as: author)
            let photo = try await Authoring.question(client, Authoring.evidenceRequest, as: author)
            let task = try await Authoring.evaluation(client, kind: .evidence, questions: [photo], as: author)

            for evaluation in [quiz, checklist, task] {
                let published = try await client.send(.post, "/v1/evaluations/\(evaluation)/versions/1/publish", as: author)
                #expect(published.status == .ok, "\(published.text)")
                #expect(try published.json()["status"] == "published")
            }

            // The quiz question was a draft: publishing the quiz published it, and the quiz is active.
            let question = try await client.send(.get, "/v1/questions/\(quizQuestion)/versions/1", as: author)
            #expect(try question.json()["status"] == "published")
            let detail = try await client.send(.get, "/v1/evaluations/\(quiz)", as: author).json()
            #expect(detail["evaluation"]?["activeVersion"] == 1)

            // The preview is what the operator sees: prompts and rules, never the answer key.
            let quizPreview = try await client.send(.get, "/v1/evaluations/\(quiz)/preview", as: author)
            #expect(quizPreview.status == .ok)
            #expect(!quizPreview.text.contains("answerKey") && !quizPreview.text.contains("correct") && !quizPreview.text.contains("explanation"))
            let quizForm = try quizPreview.json()
            #expect(quizForm["maxAttempts"] == 3)
            #expect(quizForm["maxScore"] == 2)
            #expect(quizForm["sections"]?[0]?["items"]?[0]?["options"]?.arrayValue.count == 2)

            let checklistForm = try await client.send(.get, "/v1/evaluations/\(checklist)/preview", as: author).json()
            let fail = checklistForm["sections"]?[0]?["items"]?[0]?["options"]?[1]
            #expect(fail?["finding"] == true && fail?["severity"] == "major")
            #expect(fail?["requiresEvidence"] == true && fail?["requiresComment"] == true)

            let taskForm = try await client.send(.get, "/v1/evaluations/\(task)/preview", as: author).json()
            #expect(taskForm["sections"]?[0]?["items"]?[0]?["evidence"]?["minFiles"] == 1)
            #expect(taskForm["sections"]?[0]?["items"]?[0]?["evidence"]?["noteRequired"] == true)

            let version = try await client.send(.get, "/v1/evaluations/\(checklist)/versions/1", as: author).json()
            #expect(version["definition"]?["reviewPolicy"] == "four_eyes")
            #expect(version["definition"]?["approvalRequired"] == true, "observations wait for review unless configured otherwise")

            let quizVersion = try await client.send(.get, "/v1/evaluations/\(quiz)/versions/1", as: author).json()
            let ledger = try await client.send(.get, "/v1/ledger/events?aggregateId=\(quiz)", as: tenant.admin).json()
            let types = ledger["items"]?.arrayValue.compactMap { $0["eventType"]?.stringValue } ?? []
            #expect(types.contains("evaluation.version.published"), "\(types)")
            #expect(types.contains("evaluation.version.activated"), "\(types)")
            let published = ledger["items"]?.arrayValue.first { $0["eventType"] == "evaluation.version.published" }
            #expect(published?["payload"]?["contentHash"] == quizVersion["contentHash"], "the ledger proves exactly what was published")
        }
    }

    @Test("a published version cannot be changed through the API; a new draft is made from it")
    func publishedVersionIsFrozenForTheAPI() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let quiz = try await Authoring.publishedQuiz(client, as: tenant.admin)
            let edit = try await client.send(
                .put, "/v1/evaluations/\(quiz)/versions/1", json: #"{"definition":{"title":"Changed"}}"#, as: tenant.admin)
            #expect(edit.status == .conflict)
            #expect(edit.text.contains("create a new draft version"))
            let republish = try await client.send(.post, "/v1/evaluations/\(quiz)/versions/1/publish", as: tenant.admin)
            #expect(republish.status == .conflict)

            let draft = try await client.send(.post, "/v1/evaluations/\(quiz)/versions", json: #"{"basedOn":1}"#, as: tenant.admin)
            #expect(draft.status == .created, "\(draft.text)")
            let body = try draft.json()
            #expect(body["version"] == 2 && body["status"] == "draft")
            let original = try await client.send(.get, "/v1/evaluations/\(quiz)/versions/1", as: tenant.admin).json()
            #expect(body["definition"]?["sections"] == original["definition"]?["sections"], "the draft starts from version 1, ids kept")

            let renamed = try await client.send(
                .put, "/v1/evaluations/\(quiz)/versions/2",
                json: #"{"definition":{"title":"Pressure basics, 2nd edition","sections":\#(try jsonText(original["definition"]?["sections"])),"grading":{"passThreshold":0.6}}}"#,
                as: tenant.admin)
            #expect(renamed.status == .ok, "\(renamed.text)")
            let second = try await client.send(.post, "/v1/evaluations/\(quiz)/versions", as: tenant.admin)
            #expect(second.status == .conflict, "one draft at a time")
            let published = try await client.send(.post, "/v1/evaluations/\(quiz)/versions/2/publish", as: tenant.admin)
            #expect(published.status == .ok, "\(published.text)")
            let detail = try await client.send(.get, "/v1/evaluations/\(quiz)", as: tenant.admin).json()
            #expect(detail["evaluation"]?["activeVersion"] == 2)
            #expect(detail["versions"]?.arrayValue.map { $0["status"] } == ["published", "published"])
        }
    }

    @Test("the database refuses changes to a published version from SQL as the application role")
    func publishedVersionIsFrozenInTheDatabase() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let quiz = try await Authoring.publishedQuiz(client, as: tenant.admin)
            let scope = "SELECT set_config('app.tenant_id', '\(tenant.tenantId)', true), set_config('app.org_scope_all', 'true', true)"
            let attacks = [
                "UPDATE evaluation_versions SET definition = '{\"title\":\"forged\"}' WHERE evaluation_id = '\(quiz)'",
                "UPDATE evaluation_versions SET status = 'draft', published_at = NULL WHERE evaluation_id = '\(quiz)'",
                "DELETE FROM evaluation_versions WHERE evaluation_id = '\(quiz)'",
                "UPDATE question_versions SET content = '{}' WHERE question_id IN (SELECT question_id FROM evaluation_version_items WHERE evaluation_id = '\(quiz)')",
                "DELETE FROM evaluation_version_items WHERE evaluation_id = '\(quiz)'",
                "UPDATE evaluation_version_items SET question_version = 1 WHERE evaluation_id = '\(quiz)'",
            ]
            for attack in attacks {
                await #expect(throws: (any Error).self, "\(attack)") {
                    try await TestEnvironment.sql("BEGIN", scope, attack, "COMMIT", as: TestEnvironment.application)
                }
            }
            // Archiving is the one change a published version accepts (it is not the active one here).
            let draft = try await client.send(.post, "/v1/evaluations/\(quiz)/versions", as: tenant.admin)
            #expect(draft.status == .created)
            let published = try await client.send(.post, "/v1/evaluations/\(quiz)/versions/2/publish", as: tenant.admin)
            #expect(published.status == .ok, "\(published.text)")
            let archived = try await client.send(.post, "/v1/evaluations/\(quiz)/versions/1/archive", as: tenant.admin)
            #expect(archived.status == .ok, "\(archived.text)")
            let active = try await client.send(.post, "/v1/evaluations/\(quiz)/versions/2/archive", as: tenant.admin)
            #expect(active.status == .conflict, "the active version is not archived")
            await #expect(throws: (any Error).self, "only a published version can be active") {
                try await TestEnvironment.sql(
                    "BEGIN", scope, "UPDATE evaluations SET active_version = 1 WHERE id = '\(quiz)'", "COMMIT", as: TestEnvironment.application)
            }
        }
    }

    @Test("exactly one version is active, also when two publishes and two activations race")
    func oneActiveVersionUnderRaces() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let question = try await Authoring.question(client, Authoring.quizQuestion, as: tenant.admin)
            let quiz = try await Authoring.evaluation(
                client, kind: .knowledge, questions: [question], extra: #","grading":{"passThreshold":0.5}"#, as: tenant.admin)
            let admin = tenant.admin
            async let first = client.send(.post, "/v1/evaluations/\(quiz)/versions/1/publish", as: admin)
            async let second = client.send(.post, "/v1/evaluations/\(quiz)/versions/1/publish", as: admin)
            let statuses = try await [first.status, second.status].map(\.code).sorted()
            #expect(statuses == [200, 409])

            _ = try await client.send(.post, "/v1/evaluations/\(quiz)/versions", as: admin)
            let publishedTwo = try await client.send(.post, "/v1/evaluations/\(quiz)/versions/2/publish", json: #"{"activate":false}"#, as: admin)
            #expect(publishedTwo.status == .ok, "\(publishedTwo.text)")
            #expect(try await client.send(.get, "/v1/evaluations/\(quiz)", as: admin).json()["evaluation"]?["activeVersion"] == 1)

            async let activateOne = client.send(.post, "/v1/evaluations/\(quiz)/versions/1/activate", as: admin)
            async let activateTwo = client.send(.post, "/v1/evaluations/\(quiz)/versions/2/activate", as: admin)
            #expect(try await [activateOne.status, activateTwo.status] == [.ok, .ok])
            let active = try await client.send(.get, "/v1/evaluations/\(quiz)", as: admin).json()["evaluation"]?["activeVersion"]
            let events = try await client.send(.get, "/v1/ledger/events?aggregateId=\(quiz)", as: admin).json()["items"]?.arrayValue ?? []
            let lastActivation = events.last { $0["eventType"] == "evaluation.version.activated" }
            #expect(active == lastActivation?["payload"]?["version"], "the active version is the one the last activation event names")
            #expect(events.filter { $0["eventType"] == "evaluation.version.published" }.count == 2)
        }
    }

    @Test("publish validation returns every problem at once, as problem+json with a list")
    func publishValidationListsEveryProblem() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let noKey = try await Authoring.question(
                client, #"{"kind":"single_choice","content":{"prompt":"Pick one","options":[{"id":"a","label":"A"},{"id":"b","label":"B"}]}}"#,
                as: tenant.admin)
            let evidenceless = try await Authoring.question(
                client,
                #"{"kind":"rubric","content":{"prompt":{"defaultLocale":"fr","locales":{"en":"Exit clear"}},"options":[{"id":"fail","label":"Fail","finding":true,"severity":"critical","requiresEvidence":true}]}}"#,
                as: tenant.admin)
            let quiz = try await Authoring.evaluation(
                client, kind: .observation, questions: [noKey, evidenceless], extra: #","grading":{"passThreshold":1.5}"#, as: tenant.admin)
            let response = try await client.send(.post, "/v1/evaluations/\(quiz)/versions/1/publish", as: tenant.admin)
            #expect(response.status == .unprocessableContent)
            #expect(response.headers[.contentType] == "application/problem+json")
            let problem = try response.json()
            #expect(problem["type"] == "urn:evalium:problem:validation-failed")
            let pointers = Set(problem["errors"]?.arrayValue.compactMap { $0["pointer"]?.stringValue } ?? [])
            let expected: Set<String> = [
                "/definition/sections/0/items/0/question/answerKey/correctOptionIds",
                "/definition/sections/0/items/1/question/prompt",
                "/definition/sections/0/items/1/question/options/0/requiresEvidence",
                "/definition/grading/passThreshold",
            ]
            #expect(expected.isSubset(of: pointers), "\(pointers)")
            let detail = try await client.send(.get, "/v1/evaluations/\(quiz)/versions/1", as: tenant.admin).json()
            #expect(detail["status"] == "draft", "nothing was published")
            let question = try await client.send(.get, "/v1/questions/\(noKey)/versions/1", as: tenant.admin).json()
            #expect(question["status"] == "draft", "nor any question it pins")
        }
    }

    @Test("a misspelt field in authored content is refused, not silently dropped")
    func unknownFieldsAreRefused() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let response = try await client.send(
                .post, "/v1/questions",
                json: #"{"kind":"rubric","content":{"prompt":"Exit clear","options":[{"id":"fail","label":"Fail","requiresEvidance":true}]}}"#,
                as: tenant.admin)
            #expect(response.status == .unprocessableContent)
            #expect(try response.json()["errors"]?[0]?["pointer"] == "/content/options/0/requiresEvidance")
        }
    }

    @Test("tags come from the tenant's vocabularies and are frozen into the published version")
    func tagsAreFrozenAtPublishing() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let created = try await client.send(
                .post, "/v1/taxonomies", json: #"{"key":"topic","name":"Topic","tags":[{"key":"fire-safety","label":"Fire safety"}]}"#,
                as: tenant.admin)
            #expect(created.status == .created, "\(created.text)")
            let tag = try #require(created.json()["tags"]?[0]?["id"]?.stringValue)
            let question = try await Authoring.question(
                client,
                #"{"kind":"true_false","content":{"prompt":"Extinguishers are checked monthly","answerKey":{"correctValue":true},"tags":["\#(tag)"]}}"#,
                as: tenant.admin)
            let published = try await client.send(.post, "/v1/questions/\(question)/versions/1/publish", as: tenant.admin)
            #expect(published.status == .ok, "\(published.text)")
            let renamed = try await client.send(.patch, "/v1/tags/\(tag)", json: #"{"label":"Fire & life safety"}"#, as: tenant.admin)
            #expect(renamed.status == .ok)
            let version = try await client.send(.get, "/v1/questions/\(question)/versions/1?lang=en", as: tenant.admin).json()
            #expect(version["tags"]?[0]?["label"] == "Fire safety", "the published version keeps the wording it was published with")
            #expect(version["tags"]?[0]?["taxonomy"] == "topic")
            let filtered = try await client.send(.get, "/v1/questions?tagId=\(tag)", as: tenant.admin).json()
            #expect(filtered["items"]?.arrayValue.map { $0["id"]?.stringValue } == [question.rawValue])

            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let foreign = try await client.send(
                .post, "/v1/questions",
                json: #"{"kind":"true_false","content":{"prompt":"Borrowed","answerKey":{"correctValue":true},"tags":["\#(tag)"]}}"#,
                as: other.admin)
            #expect(foreign.status == .unprocessableContent, "another tenant's tag cannot be referenced")
        }
    }

    private func jsonText(_ value: JSONValue?) throws -> String {
        String(decoding: try WireJSON.makeEncoder().encode(value ?? .null), as: UTF8.self)
    }
}
