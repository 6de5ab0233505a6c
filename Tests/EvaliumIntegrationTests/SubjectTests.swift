@testable import EvaliumApp
import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Subjects: people, assets and locations, their CSV imports, filters and silos", .timeLimit(.minutes(2)))
struct SubjectTests {
    // MARK: observation_subjects_import

    @Test("an import is previewed (writing nothing else), re-read, committed at once, and a re-import updates by external ref")
    func importPreviewThenCommit() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let person = try await TestEnvironment.makeUser(client, server, in: tenant)
            let email = try #require(try await client.send(.get, "/v1/users/\(person.userId)", as: tenant.admin).json()["email"]?.stringValue)
            let csv = """
                external_ref,type,display_name,asset_type,tags,identifier.serialNumber,user_email\r
                EXT-0042,asset,"Extinguisher, lobby",fire_extinguisher,Floor-1;red,SN-42,\r
                EXT-0043,asset,"Extinguisher ""B""\",fire_extinguisher,"floor-2;\r
                red",SN-43,\r
                EMP-7,user,Ana,,,,\(email.uppercased())\r
                LOC-1,location,Boiler room,,,,\r

                """
            let preview = try await SubjectRequests.importFile(client, csv, as: tenant.admin)
            #expect(preview.status == .created, "\(preview.text)")
            let body = try preview.json()
            let importId = try #require(body["id"]?.stringValue)
            #expect(body["status"] == "previewed")
            #expect(body["summary"] == ["create": 4, "update": 0, "unchanged": 0, "errors": 0])
            #expect(body["rows"]?.arrayValue.map { $0["line"] } == [2, 3, 5, 6], "a quoted line break belongs to its row")
            #expect(body["rows"]?[0]?["changes"]?.arrayValue.contains { $0["field"] == "asset.identifiers.serialNumber" && $0["to"] == "SN-42" } == true)
            #expect(body["expiresAt"] != nil)

            // Nothing but the preview was written.
            #expect(try await SubjectRequests.list(client, "", as: tenant.admin).isEmpty)
            let reread = try await client.send(.get, "/v1/subject-imports/\(importId)", as: tenant.admin)
            #expect(reread.status == .ok)
            #expect(try reread.json()["rows"] == body["rows"])

            let commit = try await client.send(.post, "/v1/subject-imports/\(importId)/commit", as: tenant.admin, headers: [.idempotencyKey: "commit-1"])
            #expect(commit.status == .ok, "\(commit.text)")
            #expect(try commit.json()["status"] == "committed")
            let replay = try await client.send(.post, "/v1/subject-imports/\(importId)/commit", as: tenant.admin, headers: [.idempotencyKey: "commit-1"])
            #expect(replay.status == .ok && replay.headers[.idempotentReplayed] == "true")
            #expect(try await client.send(.post, "/v1/subject-imports/\(importId)/commit", as: tenant.admin).status == .conflict,
                    "a preview is committed once")

            let subjects = try await SubjectRequests.list(client, "", as: tenant.admin)
            #expect(subjects.count == 4)
            let extinguisher = try #require(subjects.first { $0["externalRef"] == "EXT-0042" })
            #expect(extinguisher["displayName"] == "Extinguisher, lobby")
            #expect(extinguisher["tags"] == ["floor-1", "red"])
            #expect(extinguisher["asset"] == ["assetType": "fire_extinguisher", "identifiers": ["serialNumber": "SN-42"], "metadata": [:]])
            let second = try #require(subjects.first { $0["externalRef"] == "EXT-0043" })
            #expect(second["displayName"] == "Extinguisher \"B\"" && second["tags"] == ["floor-2", "red"])
            #expect(subjects.first { $0["externalRef"] == "EMP-7" }?["userId"]?.stringValue == person.userId.rawValue)

            let events = try await TestEnvironment.ledgerEvents(server, tenant.tenantId)
            #expect(events.filter { $0.eventType == "subject.created" }.count == 4)
            let imported = try #require(events.first { $0.eventType == "subjects.imported" })
            #expect(imported.payload["created"] == 4 && imported.payload["importId"] == .string(importId))
            #expect(events.contains { $0.eventType == "subjects.import.previewed" })
            let ledgerText = String(describing: events.map(\.payload))
            #expect(!ledgerText.contains("Extinguisher") && !ledgerText.contains("EXT-0042") && !ledgerText.contains("Ana"), "ids only")

            // The same refs again: matched and updated, not duplicated.
            let again = try await SubjectRequests.importFile(
                client, "external_ref,display_name,tags,identifier.serialNumber\nEXT-0042,Extinguisher (lobby),floor-1;red,SN-42\nLOC-1,Boiler room,,\n",
                as: tenant.admin)
            let reimport = try again.json()
            #expect(reimport["summary"] == ["create": 0, "update": 1, "unchanged": 1, "errors": 0], "\(again.text)")
            #expect(reimport["rows"]?[0]?["subjectId"] == extinguisher["id"])
            #expect(reimport["rows"]?[0]?["changes"] == [["field": "displayName", "from": "Extinguisher, lobby", "to": "Extinguisher (lobby)"]])
            let secondId = try #require(reimport["id"]?.stringValue)
            #expect(try await client.send(.post, "/v1/subject-imports/\(secondId)/commit", as: tenant.admin).status == .ok)
            let renamed = try await client.send(.get, "/v1/subjects/\(extinguisher["id"]?.stringValue ?? "")", as: tenant.admin).json()
            #expect(renamed["displayName"] == "Extinguisher (lobby)")
            #expect(try await SubjectRequests.list(client, "", as: tenant.admin).count == 4)
            #expect(try await TestEnvironment.ledgerEvents(server, tenant.tenantId).contains { $0.eventType == "subject.updated" && $0.payload["changed"] == ["displayName"] })
        }
    }

    @Test("rows with errors are listed with every reason, and such a preview is never committed")
    func importErrorsAreListed() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let csv = """
                external_ref,type,display_name,asset_type,user_email,org_unit_id
                ,asset,No ref,van,,
                V-1,vehicle,Unknown type,,,
                V-2,asset,Twice,van,,
                V-2,asset,Twice again,van,,
                P-1,user,Nobody,,nobody@example.org,
                V-3,asset,Elsewhere,van,,org_01ARZ3NDEKTSV4RRFFQ69G5FAV
                OK-1,location,Fine,,,
                """
            let preview = try await SubjectRequests.importFile(client, csv, as: tenant.admin)
            #expect(preview.status == .created, "\(preview.text)")
            let body = try preview.json()
            #expect(body["summary"] == ["create": 1, "update": 0, "unchanged": 0, "errors": 6])
            let rows = body["rows"]?.arrayValue ?? []
            func columns(_ line: Int) -> [JSONValue?] {
                (rows.first { $0["line"] == .number(Double(line)) }?["errors"]?.arrayValue ?? []).map { $0["column"] }
            }
            #expect(columns(2) == ["external_ref"])
            #expect(columns(3) == ["type"])
            #expect(columns(4) == ["external_ref"] && columns(5) == ["external_ref"])
            #expect(columns(6) == ["user_email"])
            #expect(columns(7) == ["org_unit_id"])
            #expect(rows.allSatisfy { row in row["action"] != "error" || row["errors"]?.arrayValue.allSatisfy { $0["detail"]?.stringValue?.isEmpty == false } == true })

            let id = try #require(body["id"]?.stringValue)
            let commit = try await client.send(.post, "/v1/subject-imports/\(id)/commit", as: tenant.admin)
            #expect(commit.status == .unprocessableContent)
            #expect(try commit.json()["errors"]?.arrayValue.count == 6)
            #expect(try await SubjectRequests.list(client, "", as: tenant.admin).isEmpty, "not even the good row")
        }
    }

    @Test("a commit is all or nothing: a subject taken since the preview refuses the whole import with 409")
    func commitIsAtomic() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let preview = try await SubjectRequests.importFile(
                client, "external_ref,type,display_name\nA-1,location,Room 1\nA-2,location,Room 2\nA-3,location,Room 3\n", as: tenant.admin)
            let id = try #require(try preview.json()["id"]?.stringValue)
            // Meanwhile someone creates A-2 by hand.
            let meanwhile = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"location","displayName":"Room two","externalRef":"A-2"}"#, as: tenant.admin)
            #expect(meanwhile.status == .created)
            let commit = try await client.send(.post, "/v1/subject-imports/\(id)/commit", as: tenant.admin)
            #expect(commit.status == .conflict, "\(commit.text)")
            #expect(try commit.json()["errors"]?[0]?["pointer"] == "/rows/1")
            let refs = try await SubjectRequests.list(client, "", as: tenant.admin).map { $0["externalRef"] }
            #expect(refs == ["A-2"], "neither A-1 nor A-3 was written")
            #expect(try await client.send(.get, "/v1/subject-imports/\(id)", as: tenant.admin).json()["status"] == "previewed")

            // A subject edited since the preview in a field the file sets is a conflict too.
            let update = try await SubjectRequests.importFile(client, "external_ref,display_name\nA-2,Room 2 renamed\n", as: tenant.admin)
            let updateId = try #require(try update.json()["id"]?.stringValue)
            let subjectId = try #require(try update.json()["rows"]?[0]?["subjectId"]?.stringValue)
            #expect(try await client.send(.patch, "/v1/subjects/\(subjectId)", json: #"{"displayName":"Someone else's name"}"#, as: tenant.admin).status == .ok)
            #expect(try await client.send(.post, "/v1/subject-imports/\(updateId)/commit", as: tenant.admin).status == .conflict)
        }
    }

    // MARK: observation_subjects_filtering

    @Test("subjects filter by type, asset type, tags, any identifier, ref, status and text, with keyset paging")
    func filtering() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let specs: [(String, String, String, String)] = [
                ("E-1", "fire_extinguisher", #"["floor-1","red"]"#, #"{"serialNumber":"EXT-0042"}"#),
                ("E-2", "fire_extinguisher", #"["floor-2","red"]"#, #"{"serialNumber":"EXT-0043","barcode":"9780201633610"}"#),
                ("V-1", "vehicle", #"["fleet"]"#, #"{"vin":"WVWZZZ1JZXW000001","plate":"EXT-0042","code":"Q\"7\\x"}"#),
            ]
            for (ref, assetType, tags, identifiers) in specs {
                let created = try await client.send(
                    .post, "/v1/subjects",
                    json: #"{"type":"asset","displayName":"Asset \#(ref)","externalRef":"\#(ref)","tags":\#(tags),"asset":{"assetType":"\#(assetType)","identifiers":\#(identifiers),"metadata":{"make":"Acme"}}}"#,
                    as: tenant.admin)
                #expect(created.status == .created, "\(created.text)")
            }
            let room = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"location","displayName":"Boiler room","externalRef":"L-1","tags":["RED"]}"#, as: tenant.admin)
            #expect(room.status == .created)

            func refs(_ query: String) async throws -> [String] {
                try await SubjectRequests.list(client, query, as: tenant.admin).compactMap { $0["externalRef"]?.stringValue }
            }
            #expect(try await refs("assetType=fire_extinguisher") == ["E-1", "E-2"])
            #expect(try await refs("tag=red") == ["E-1", "E-2", "L-1"], "tags are stored lower-case")
            #expect(try await refs("tag=red&tag=floor-2") == ["E-2"], "several tags: all of them")
            #expect(try await refs("identifier=EXT-0042") == ["E-1", "V-1"], "any identifier, exactly")
            #expect(try await refs("identifier=EXT-004").isEmpty)
            #expect(try await refs("identifier=Q%227%5Cx") == ["V-1"], "quotes and backslashes are matched literally")
            #expect(try await refs("identifier=9780201633610&assetType=fire_extinguisher") == ["E-2"])
            #expect(try await refs("type=location") == ["L-1"])
            #expect(try await refs("externalRef=V-1") == ["V-1"])
            #expect(try await refs("q=boiler") == ["L-1"])
            #expect(try await refs("q=e-") == ["E-1", "E-2"], "q matches the external ref too")

            let listed = try await SubjectRequests.list(client, "externalRef=V-1", as: tenant.admin)
            #expect(listed.first?["asset"]?["identifiers"]?["plate"] == "EXT-0042", "items carry the asset fields")
            #expect(listed.first?["asset"]?["metadata"] == ["make": "Acme"])

            let first = try await client.send(.get, "/v1/subjects?limit=2", as: tenant.admin).json()
            #expect(first["items"]?.arrayValue.count == 2)
            let cursor = try #require(first["nextCursor"]?.stringValue)
            let second = try await client.send(.get, "/v1/subjects?limit=2&after=\(cursor)", as: tenant.admin).json()
            #expect(second["items"]?.arrayValue.compactMap { $0["externalRef"]?.stringValue } == ["V-1", "L-1"])
            #expect(try await client.send(.get, "/v1/subjects?limit=0", as: tenant.admin).status == .unprocessableContent)
            #expect(try await client.send(.get, "/v1/subjects?tag=not%20a%20key", as: tenant.admin).status == .unprocessableContent)

            let roomId = try #require(try room.json()["id"]?.stringValue)
            let archive = try await client.send(.patch, "/v1/subjects/\(roomId)", json: #"{"status":"archived"}"#, as: tenant.admin)
            #expect(archive.status == .ok)
            #expect(try await refs("status=archived") == ["L-1"])
            #expect(try await refs("status=active&tag=red") == ["E-1", "E-2"])
            #expect(try await TestEnvironment.ledgerEvents(server, tenant.tenantId).contains { $0.eventType == "subject.archived" })
        }
    }

    // MARK: Creating, reading, changing

    @Test("a person subject links an existing person once; reading a subject records subject.viewed; bodies are strict")
    func createReadAndChange() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let person = try await TestEnvironment.makeUser(client, server, in: tenant)
            let created = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"user","displayName":"Ana","externalRef":"EMP-1","userId":"\#(person.userId)"}"#,
                as: tenant.admin)
            #expect(created.status == .created, "\(created.text)")
            let subject = try created.json()
            #expect(subject["userId"]?.stringValue == person.userId.rawValue && subject["orgUnitId"]?.stringValue == tenant.root.rawValue)
            let again = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"user","displayName":"Ana again","userId":"\#(person.userId)"}"#, as: tenant.admin)
            #expect(again.status == .conflict, "a person is one subject")
            let stranger = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"user","displayName":"Who","userId":"\#(UserID.generate())"}"#, as: tenant.admin)
            #expect(stranger.status == .unprocessableContent)
            #expect(try stranger.json()["errors"]?[0]?["pointer"] == "/userId")
            let duplicateRef = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"location","displayName":"Room","externalRef":"EMP-1"}"#, as: tenant.admin)
            #expect(duplicateRef.status == .conflict)
            let wrongShape = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"location","displayName":"Room","asset":{"assetType":"van"},"colour":"red"}"#, as: tenant.admin)
            #expect(wrongShape.status == .unprocessableContent)
            #expect(try wrongShape.json()["errors"]?[0]?["pointer"] == "/colour", "unknown fields are refused")

            let id = try #require(subject["id"]?.stringValue)
            let read = try await client.send(.get, "/v1/subjects/\(id)", as: tenant.admin)
            #expect(read.status == .ok)
            #expect(try read.json() == subject)
            let viewed = try await TestEnvironment.ledgerEvents(server, tenant.tenantId).filter { $0.eventType == "subject.viewed" }
            #expect(viewed.count == 1)
            #expect(viewed.first?.aggregateId == id && viewed.first?.actor == LedgerActor(kind: .user, id: tenant.admin.userId.rawValue))
            #expect(viewed.first?.payload["subjectId"] == .string(id) && viewed.first?.payload["displayName"] == nil)

            let patched = try await client.send(
                .patch, "/v1/subjects/\(id)", json: #"{"displayName":"Ana B.","tags":["Night-Shift"]}"#, as: tenant.admin)
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(try patched.json()["tags"] == ["night-shift"])
            let notAsset = try await client.send(.patch, "/v1/subjects/\(id)", json: #"{"asset":{"assetType":"van"}}"#, as: tenant.admin)
            #expect(notAsset.status == .unprocessableContent)
            let updated = try await TestEnvironment.ledgerEvents(server, tenant.tenantId).first { $0.eventType == "subject.updated" }
            #expect(updated?.payload["changed"] == ["displayName", "tags"])

            let inspector = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.inspector.id, nil)])
            let refused = try await client.send(.get, "/v1/subjects", as: inspector)
            #expect(refused.status == .forbidden)
            #expect(try refused.json()["type"] == "urn:evalium:problem:capability-missing")
        }
    }

    @Test("a subject read checks the session in its own statements: an out-of-date token or an ended session reads and records nothing")
    func readChecksTheSession() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let assigner = try await TestEnvironment.makeUser(client, server, in: tenant, roles: [(BuiltInRole.assigner.id, nil)])
            let created = try await client.send(.post, "/v1/subjects", json: #"{"type":"location","displayName":"Plant room"}"#, as: tenant.admin)
            let id = try #require(try created.json()["id"]?.stringValue)
            #expect(try await client.send(.get, "/v1/subjects/\(id)", as: assigner).status == .ok)

            try await TestEnvironment.expectReadRefusedOnceSessionChanges(client, "/v1/subjects/\(id)", reader: assigner, in: tenant)
            let viewed = try await TestEnvironment.ledgerEvents(server, tenant.tenantId).filter { $0.eventType == "subject.viewed" }
            #expect(viewed.map(\.actor.id) == [assigner.userId.rawValue], "only the read that was answered is recorded")
        }
    }

    /// A tenant with a North and a South org unit, and an assigner whose grant and home are North only.
    static func northAndSouth(
        _ client: some TestClientProtocol, _ server: EvaliumServer
    ) async throws -> (tenant: TenantWithAdmin, north: OrgUnitID, south: OrgUnitID, northAssigner: SignedIn) {
        let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
        let north = try await TestEnvironment.makeOrgUnit(server, tenantId: tenant.tenantId, name: "North")
        let south = try await TestEnvironment.makeOrgUnit(server, tenantId: tenant.tenantId, name: "South")
        let northAssigner = try await TestEnvironment.makeUser(
            client, server, in: tenant, roles: [(BuiltInRole.assigner.id, north)], homeOrgUnit: north)
        return (tenant, north, south, northAssigner)
    }

    @Test("a subject read again records its view in the same statement; moved behind the server's back, it is recorded where it stands; out of reach, nothing is")
    func readAgainRecordsWhereTheSubjectStands() async throws {
        try await TestEnvironment.withServer { client, server in
            let (tenant, north, south, northAssigner) = try await Self.northAndSouth(client, server)
            let created = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"location","displayName":"Yard","orgUnitId":"\#(north)"}"#, as: tenant.admin)
            let id = try #require(try created.json()["id"]?.stringValue)
            func views() async throws -> [LedgerEventDraft] {
                try await TestEnvironment.ledgerEvents(server, tenant.tenantId).filter { $0.eventType == "subject.viewed" }
            }

            for _ in 0..<3 { #expect(try await client.send(.get, "/v1/subjects/\(id)", as: northAssigner).status == .ok) }
            #expect(try await views().map(\.orgUnitId) == [north, north, north], "each read is recorded once, the first and the later ones alike")
            #expect(try await views().allSatisfy { $0.payload["orgUnitId"] == .string(north.rawValue) && $0.payload["type"] == "location" })

            // Moved without the API (which never moves a subject): the next read still answers it and records it where it is now.
            try await TestEnvironment.sql("UPDATE subjects SET org_unit_id = '\(south)' WHERE id = '\(id)'", as: TestEnvironment.superuser)
            let moved = try await client.send(.get, "/v1/subjects/\(id)", as: tenant.admin)
            #expect(try moved.json()["orgUnitId"]?.stringValue == south.rawValue)
            #expect(try await client.send(.get, "/v1/subjects/\(id)", as: tenant.admin).status == .ok)
            #expect(try await views().suffix(2).map { $0.payload["orgUnitId"] } == [.string(south.rawValue), .string(south.rawValue)])

            // Out of the northern assigner's reach now: the read this server would send with its event finds nothing.
            #expect(try await client.send(.get, "/v1/subjects/\(id)", as: northAssigner).status == .notFound)
            let other = try await TestEnvironment.makeTenantWithAdmin(client, server)
            #expect(try await client.send(.get, "/v1/subjects/\(id)", as: other.admin).status == .notFound)
            #expect(try await views().count == 5, "a read that answered nothing recorded nothing")
            let otherViews = try await TestEnvironment.ledgerEvents(server, other.tenantId).filter { $0.eventType == "subject.viewed" }
            #expect(otherViews.isEmpty)
        }
    }

    @Test("the placements a server remembers are per tenant, follow a subject that moved, and the oldest make way when full")
    func placementsAreBounded() {
        let placements = SubjectPlacements(capacity: 3)
        let tenant = TenantID.generate(), other = TenantID.generate()
        let north = OrgUnitID.generate(), south = OrgUnitID.generate()
        let subjects = (0..<4).map { _ in
            Subject(
                id: SubjectID.generate(), tenantId: tenant, orgUnitId: north, type: .location, displayName: "Yard", externalRef: nil,
                status: .active, tags: [], userId: nil, asset: nil, createdAt: Date(), updatedAt: Date())
        }
        placements.keep(subjects[0])
        #expect(placements.placement(of: subjects[0].id, in: tenant) == SubjectPlacement(orgUnitId: north, type: .location))
        #expect(placements.placement(of: subjects[0].id, in: other) == nil, "a subject id answers nothing in another tenant")

        var moved = subjects[0]
        moved.orgUnitId = south
        placements.keep(moved)
        #expect(placements.placement(of: moved.id, in: tenant)?.orgUnitId == south)
        for subject in subjects.dropFirst() { placements.keep(subject) }
        #expect(placements.placement(of: subjects[0].id, in: tenant) == nil, "the oldest made way for the fourth")
        #expect(subjects.dropFirst().allSatisfy { placements.placement(of: $0.id, in: tenant) != nil })
    }

    // MARK: Tenants and org units

    @Test("another tenant's subjects are invisible, unchangeable, and their external refs do not collide")
    func crossTenant() async throws {
        try await TestEnvironment.withServer { client, server in
            let mine = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let theirs = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let their = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"location","displayName":"Their room","externalRef":"R-1"}"#, as: theirs.admin)
            let theirId = try #require(try their.json()["id"]?.stringValue)

            #expect(try await client.send(.get, "/v1/subjects/\(theirId)", as: mine.admin).status == .notFound)
            #expect(try await client.send(.patch, "/v1/subjects/\(theirId)", json: #"{"displayName":"Mine now"}"#, as: mine.admin).status == .notFound)
            #expect(try await SubjectRequests.list(client, "", as: mine.admin).isEmpty)
            #expect(try await SubjectRequests.list(client, "externalRef=R-1", as: mine.admin).isEmpty)

            // The same ref is free in my tenant: by hand, and an import creates rather than updates.
            let preview = try await SubjectRequests.importFile(client, "external_ref,type,display_name\nR-1,location,My room\n", as: mine.admin)
            #expect(try preview.json()["rows"]?[0]?["action"] == "create", "\(preview.text)")
            let id = try #require(try preview.json()["id"]?.stringValue)
            #expect(try await client.send(.post, "/v1/subject-imports/\(id)/commit", as: mine.admin).status == .ok)
            #expect(try await client.send(.get, "/v1/subject-imports/\(id)", as: theirs.admin).status == .notFound)
            let theirsAfter = try await client.send(.get, "/v1/subjects/\(theirId)", as: theirs.admin).json()
            #expect(theirsAfter["displayName"] == "Their room")
        }
    }

    @Test("a subjects.manage holder limited to one org unit sees and imports only there")
    func orgUnitSilo() async throws {
        try await TestEnvironment.withServer { client, server in
            let (tenant, north, south, northAssigner) = try await Self.northAndSouth(client, server)
            let southSubject = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"location","displayName":"South yard","externalRef":"S-1","orgUnitId":"\#(south)"}"#,
                as: tenant.admin)
            let southId = try #require(try southSubject.json()["id"]?.stringValue)
            let northSubject = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"location","displayName":"North yard","externalRef":"N-1"}"#, as: northAssigner)
            #expect(northSubject.status == .created, "\(northSubject.text)")
            #expect(try northSubject.json()["orgUnitId"]?.stringValue == north.rawValue, "their only unit is the default")

            #expect(try await SubjectRequests.list(client, "", as: northAssigner).map { $0["externalRef"] } == ["N-1"])
            #expect(try await client.send(.get, "/v1/subjects/\(southId)", as: northAssigner).status == .notFound)
            #expect(try await client.send(.patch, "/v1/subjects/\(southId)", json: #"{"displayName":"x"}"#, as: northAssigner).status == .notFound)
            let outside = try await client.send(
                .post, "/v1/subjects", json: #"{"type":"location","displayName":"x","orgUnitId":"\#(south)"}"#, as: northAssigner)
            #expect(outside.status == .forbidden)
            #expect(try await SubjectRequests.list(client, "", as: tenant.admin).count == 2, "a tenant-wide holder sees both")

            let preview = try await SubjectRequests.importFile(
                client, "external_ref,type,display_name,org_unit_id\nS-1,location,Renamed,\nN-2,location,New,\(south)\nN-3,location,Fine,\n",
                as: northAssigner)
            let rows = try preview.json()["rows"]?.arrayValue ?? []
            #expect(rows.map { $0["action"] } == ["error", "error", "create"], "\(preview.text)")
            #expect(rows[0]["errors"]?[0]?["detail"]?.stringValue?.contains("outside your reach") == true)
            #expect(rows[1]["errors"]?[0]?["column"] == "org_unit_id")
            let previewId = try #require(try preview.json()["id"]?.stringValue)
            #expect(try await client.send(.get, "/v1/subject-imports/\(previewId)", as: northAssigner).status == .ok)
            let southAssigner = try await TestEnvironment.makeUser(
                client, server, in: tenant, roles: [(BuiltInRole.assigner.id, south)], homeOrgUnit: south)
            #expect(try await client.send(.get, "/v1/subject-imports/\(previewId)", as: southAssigner).status == .notFound,
                    "an import belongs to its org unit")
        }
    }

    // MARK: Refused uploads

    @Test("an oversized, malformed or mistyped upload is a clear 4xx and writes nothing")
    func refusedUploads() async throws {
        try await TestEnvironment.withServer { client, server in
            let tenant = try await TestEnvironment.makeTenantWithAdmin(client, server)
            let big = "external_ref,type,display_name\n" + String(repeating: "EXT-1,location,\(String(repeating: "x", count: 100))\n", count: 1000)
            let oversized = try await SubjectRequests.importFile(client, big, as: tenant.admin)
            #expect(oversized.status == .contentTooLarge)
            #expect(try oversized.json()["type"] == "urn:evalium:problem:payload-too-large")

            let unclosed = try await SubjectRequests.importFile(client, "external_ref,display_name\nE-1,\"never closed\n", as: tenant.admin)
            #expect(unclosed.status == .badRequest)
            #expect(try unclosed.json()["detail"]?.stringValue?.contains("line 2") == true)

            let notUTF8 = try await client.execute(
                uri: "/v1/subject-imports", method: .post, headers: SubjectRequests.headers(tenant.admin, contentType: "text/csv"),
                body: ByteBuffer(bytes: Array("external_ref\n".utf8) + [0xFF, 0x0A]))
            #expect(notUTF8.status == .badRequest)

            let unknownColumn = try await SubjectRequests.importFile(client, "external_ref,colour\nE-1,red\n", as: tenant.admin)
            #expect(unknownColumn.status == .unprocessableContent)
            #expect(try unknownColumn.json()["errors"]?[0]?["pointer"] == "/header/1")

            let json = try await SubjectRequests.importFile(client, #"{"external_ref":"E-1"}"#, as: tenant.admin, contentType: "application/json")
            #expect(json.status == .unsupportedMediaType)
            let latin1 = try await SubjectRequests.importFile(client, "external_ref\nE-1\n", as: tenant.admin, contentType: "text/csv; charset=iso-8859-1")
            #expect(latin1.status == .unsupportedMediaType)
            let withCharset = try await SubjectRequests.importFile(
                client, "external_ref,type,display_name\nE-1,location,Room\n", as: tenant.admin, contentType: "text/csv; charset=UTF-8; header=present")
            #expect(withCharset.status == .created, "\(withCharset.text)")

            let events = try await TestEnvironment.ledgerEvents(server, tenant.tenantId)
            #expect(events.filter { $0.eventType == "subjects.import.previewed" }.count == 1, "only the good upload was stored")
        }
    }
}

/// Subject requests over the real API.
enum SubjectRequests {
    static func headers(_ person: SignedIn, contentType: String) -> HTTPFields {
        var headers = person.bearer
        headers[.contentType] = contentType
        return headers
    }

    /// Uploads `csv` for a preview.
    static func importFile(
        _ client: some TestClientProtocol, _ csv: String, as person: SignedIn, contentType: String = "text/csv"
    ) async throws -> TestResponse {
        try await client.execute(
            uri: "/v1/subject-imports", method: .post, headers: headers(person, contentType: contentType), body: ByteBuffer(string: csv))
    }

    /// The items of `GET /v1/subjects?<query>` (one page of up to 200).
    static func list(_ client: some TestClientProtocol, _ query: String, as person: SignedIn) async throws -> [JSONValue] {
        let response = try await client.send(.get, "/v1/subjects?limit=200&\(query)", as: person)
        #expect(response.status == .ok, "\(response.text)")
        return try response.json()["items"]?.arrayValue ?? []
    }
}
