@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Authoring: localization contract, tenants and org-unit silos", .timeLimit(.minutes(2)))
struct AuthoringAccessTests {
    @Test("locale tags are normalised, ill-formed ones refused, and reads project with fallback to the default")
    func localizationContract() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let created = try await client.send(
                .post, "/v1/questions",
                json: #"""
                    {"kind":"true_false","content":{
                      "prompt":{"defaultLocale":"EN-us","locales":{"EN-us":"The exit is clear","FR-ca":"La sortie est dégagée"}},
                      "explanation":"Only in English","answerKey":{"correctValue":true}}}
                    """#,
                as: tenant.admin)
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created.json()["question"]?["id"]?.stringValue)
            let envelope = try await client.send(.get, "/v1/questions/\(id)/versions/1", as: tenant.admin).json()
            #expect(envelope["content"]?["prompt"]?["defaultLocale"] == "en-US")
            #expect(envelope["content"]?["prompt"]?["locales"]?["fr-CA"] == "La sortie est dégagée")
            #expect(envelope["content"]?["explanation"]?["locales"]?["en"] == "Only in English", "plain text is stored in the envelope")

            let french = try await client.send(.get, "/v1/questions/\(id)/versions/1?lang=fr-ca", as: tenant.admin)
            #expect(french.headers[.contentLanguage] == "fr-CA")
            let projected = try french.json()
            #expect(projected["content"]?["prompt"] == "La sortie est dégagée")
            #expect(projected["content"]?["explanation"] == "Only in English")
            #expect(projected["locale"]?["requested"] == "fr-CA")
            #expect(projected["locale"]?["fallbacks"]?.arrayValue.contains { $0["pointer"] == "/content/explanation" } == true)

            let german = try await client.send(.get, "/v1/questions/\(id)/versions/1?lang=de", as: tenant.admin).json()
            #expect(german["content"]?["prompt"] == "The exit is clear", "falls back to the default locale")

            let badLang = try await client.send(.get, "/v1/questions/\(id)/versions/1?lang=en_US", as: tenant.admin)
            #expect(badLang.status == .unprocessableContent)
            let badKey = try await client.send(
                .post, "/v1/questions",
                json: #"{"kind":"true_false","content":{"prompt":{"defaultLocale":"en","locales":{"en":"x","fr_CA":"y"}}}}"#, as: tenant.admin)
            #expect(badKey.status == .unprocessableContent)
            #expect(try badKey.json()["errors"]?[0]?["pointer"] == "/content/prompt/locales/fr_CA")

            let inFrench = try await client.send(
                .post, "/v1/questions", json: #"{"kind":"true_false","content":{"prompt":"Extincteur vérifié","answerKey":{"correctValue":true}}}"#,
                as: tenant.admin, headers: [.contentLanguage: "fr-FR"])
            #expect(inFrench.status == .created)
            #expect(try inFrench.json()["version"]?["content"]?["prompt"]?["defaultLocale"] == "fr-FR")
        }
    }

    @Test("another tenant's questions and evaluations are invisible and cannot be pinned into a version")
    func crossTenantAuthoring() async throws {
        try await TestEnvironment.withServer { client, server in
            let mine = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let theirs = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let theirQuestion = try await Authoring.question(client, Authoring.quizQuestion, as: theirs.admin)
            let theirQuiz = try await Authoring.publishedQuiz(client, as: theirs.admin)

            for path in [
                "/v1/questions/\(theirQuestion)", "/v1/questions/\(theirQuestion)/versions/1", "/v1/evaluations/\(theirQuiz)",
                "/v1/evaluations/\(theirQuiz)/versions/1", "/v1/evaluations/\(theirQuiz)/preview",
            ] {
                let response = try await client.send(.get, path, as: mine.admin)
                #expect(response.status == .notFound, "\(path)")
            }
            let listed = try await client.send(.get, "/v1/evaluations", as: mine.admin).json()
            #expect(listed["items"]?.arrayValue.isEmpty == true)
            let publish = try await client.send(.post, "/v1/evaluations/\(theirQuiz)/versions", as: mine.admin)
            #expect(publish.status == .notFound)

            let pinned = try await client.send(
                .post, "/v1/evaluations", json: Authoring.evaluationJSON(kind: .knowledge, questions: [theirQuestion]), as: mine.admin)
            #expect(pinned.status == .unprocessableContent)
            #expect(try pinned.json()["errors"]?[0]?["pointer"] == "/definition/sections/0/items/0/questionId")
            let pinnedByVersion = try await client.send(
                .post, "/v1/evaluations",
                json: #"{"kind":"knowledge","definition":{"sections":[{"items":[{"questionId":"\#(theirQuestion)","version":1}]}]}}"#,
                as: mine.admin)
            #expect(pinnedByVersion.status == .unprocessableContent)

            // Even SQL as the application role cannot pin another tenant's question into its own version.
            let myQuiz = try await Authoring.evaluation(
                client, kind: .knowledge, questions: [try await Authoring.question(client, Authoring.quizQuestion, as: mine.admin)], as: mine.admin)
            await #expect(throws: (any Error).self) {
                try await TestEnvironment.sql(
                    "BEGIN",
                    "SELECT set_config('app.tenant_id', '\(mine.tenantId)', true), set_config('app.org_scope_all', 'true', true)",
                    """
                    INSERT INTO evaluation_version_items (tenant_id, org_unit_id, evaluation_id, version, item_id, position, question_id, question_version)
                    VALUES ('\(mine.tenantId)', '\(mine.root)', '\(myQuiz)', 1, '\(ItemID.generate())', 99, '\(theirQuestion)', 1)
                    """,
                    "COMMIT", as: TestEnvironment.application)
            }
        }
    }

    @Test("an author in one org unit works there; shared published templates reach every unit, drafts never do")
    func orgUnitSilosAndSharing() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let north = try await TestEnvironment.makeOrgUnit(server, tenantId: tenant.tenantId, name: "North")
            let south = try await TestEnvironment.makeOrgUnit(server, tenantId: tenant.tenantId, name: "South")
            let northAuthor = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.author.id, north)], homeOrgUnit: north)
            let southAuthor = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.author.id, south)], homeOrgUnit: south)

            let southQuestion = try await Authoring.question(client, Authoring.quizQuestion, as: southAuthor)
            #expect(try await client.send(.get, "/v1/questions/\(southQuestion)", as: northAuthor).status == .notFound)
            let outside = try await client.send(
                .post, "/v1/questions", json: #"{"kind":"true_false","orgUnitId":"\#(south)","content":{"prompt":"x"}}"#, as: northAuthor)
            #expect(outside.status == .forbidden)
            let share = try await client.send(.patch, "/v1/questions/\(southQuestion)", json: #"{"shared":true}"#, as: southAuthor)
            #expect(share.status == .forbidden, "sharing across org units is for tenant-wide authors")

            // A tenant-wide author publishes a shared template in the root unit.
            let quiz = try await Authoring.publishedQuiz(client, as: tenant.admin)
            let shared = try await client.send(.patch, "/v1/evaluations/\(quiz)", json: #"{"shared":true}"#, as: tenant.admin)
            #expect(shared.status == .ok, "\(shared.text)")
            _ = try await client.send(.post, "/v1/evaluations/\(quiz)/versions", as: tenant.admin)

            let seen = try await client.send(.get, "/v1/evaluations/\(quiz)", as: northAuthor).json()
            #expect(seen["versions"]?.arrayValue.map { $0["version"] } == [1], "the published version is visible, the draft is not")
            #expect(try await client.send(.get, "/v1/evaluations/\(quiz)/preview", as: northAuthor).status == .ok)
            #expect(try await client.send(.get, "/v1/evaluations/\(quiz)/versions/2", as: northAuthor).status == .notFound)
            let change = try await client.send(.post, "/v1/evaluations/\(quiz)/versions/2/publish", as: northAuthor)
            #expect(change.status == .forbidden, "reading a shared template does not allow changing it")

            // The north author may pin the shared, published question into their own evaluation.
            let pinned = try await client.send(.get, "/v1/evaluations/\(quiz)/versions/1", as: northAuthor).json()
            let sharedQuestion = try #require(pinned["definition"]?["sections"]?[0]?["items"]?[0]?["questionId"]?.stringValue)
            let unshared = try await client.send(
                .post, "/v1/evaluations", json: Authoring.evaluationJSON(kind: .knowledge, questions: [QuestionID(sharedQuestion)!]),
                as: northAuthor)
            #expect(unshared.status == .unprocessableContent, "the question itself is not shared yet")
            #expect(try await client.send(.patch, "/v1/questions/\(sharedQuestion)", json: #"{"shared":true}"#, as: tenant.admin).status == .ok)
            let own = try await client.send(
                .post, "/v1/evaluations", json: Authoring.evaluationJSON(kind: .knowledge, questions: [QuestionID(sharedQuestion)!]),
                as: northAuthor)
            #expect(own.status == .created, "\(own.text)")
            #expect(try own.json()["evaluation"]?["orgUnitId"]?.stringValue == north.rawValue)
        }
    }

    @Test("authoring needs authoring.manage")
    func authoringNeedsTheCapability() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let inspector = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            let response = try await client.send(.post, "/v1/questions", json: Authoring.quizQuestion, as: inspector)
            #expect(response.status == .forbidden)
            #expect(try response.json()["type"] == "urn:evalium:problem:capability-missing")
            #expect(try await client.send(.get, "/v1/evaluations", as: inspector).status == .forbidden)
        }
    }
}
