import EvaliumCore
import Foundation
import Testing

@Suite("Subject imports: RFC 4180 CSV, the header, and the rules of each row")
struct SubjectImportTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    // MARK: CSV

    /// Each row: a name, the file, and the records it must give (line, fields).
    static let csvCases: [(String, String, [CSV.Record])] = [
        ("CRLF records", "a,b\r\n1,2\r\n", [.init(line: 1, fields: ["a", "b"]), .init(line: 2, fields: ["1", "2"])]),
        ("LF records, no final line break", "a,b\n1,2", [.init(line: 1, fields: ["a", "b"]), .init(line: 2, fields: ["1", "2"])]),
        ("a bare CR ends a record", "a\r1\r", [.init(line: 1, fields: ["a"]), .init(line: 2, fields: ["1"])]),
        ("quoted commas, doubled quotes and empty fields", "\"x, y\",\"say \"\"hi\"\"\",,\"\"\n",
         [.init(line: 1, fields: ["x, y", "say \"hi\"", "", ""])]),
        ("a quoted line break keeps the record and counts the line", "a,b\n\"two\nlines\",2\nlast,3\n",
         [.init(line: 1, fields: ["a", "b"]), .init(line: 2, fields: ["two\nlines", "2"]), .init(line: 4, fields: ["last", "3"])]),
        ("a quoted CRLF is kept as written", "\"x\r\ny\"\r\n", [.init(line: 1, fields: ["x\r\ny"])]),
        ("blank lines are left out", "a\n\n\r\nb\n", [.init(line: 1, fields: ["a"]), .init(line: 4, fields: ["b"])]),
        ("a byte-order mark is dropped", "\u{FEFF}external_ref\nEXT-1\n", [.init(line: 1, fields: ["external_ref"]), .init(line: 2, fields: ["EXT-1"])]),
        ("UTF-8 text", "name\nÉtagère 2 — côté nord\n", [.init(line: 1, fields: ["name"]), .init(line: 2, fields: ["Étagère 2 — côté nord"])]),
        ("a quoted empty field is a record", "\"\"\n", [.init(line: 1, fields: [""])]),
    ]

    @Test("CSV parses as RFC 4180 writes it", arguments: csvCases)
    func csvParses(name: String, text: String, expected: [CSV.Record]) throws {
        #expect(try CSV.parse(Self.bytes(text)) == expected, "\(name)")
    }

    static let malformedCases: [(String, [UInt8], CSV.Failure)] = [
        ("an unclosed quote", bytes("a\n\"open,\nstill open\n"), .unterminatedQuote(line: 2)),
        ("a quote inside an unquoted field", bytes("a\nab\"c\n"), .quoteInUnquotedField(line: 2)),
        ("text after a closing quote", bytes("\"a\"b\n"), .textAfterClosingQuote(line: 1)),
        ("bytes that are not UTF-8", [0x61, 0x0A, 0xFF, 0xFE, 0x0A], .notUTF8),
        ("more records than allowed", bytes("h\n1\n2\n3\n"), .tooManyRecords(limit: 3)),
    ]

    @Test("CSV that is not well formed is refused, naming the line", arguments: malformedCases)
    func csvRefuses(name: String, bytes: [UInt8], failure: CSV.Failure) {
        #expect(throws: failure, "\(name)") { try CSV.parse(bytes, maxRecords: 3) }
    }

    // MARK: The file

    @Test("the header maps columns in any order and case; cells are trimmed; a short row is a row problem")
    func fileReadsColumns() throws {
        let file = try SubjectImportFile.read(Self.bytes(
            "Display_Name, EXTERNAL_REF ,type,tags,identifier.serialNumber\n Extinguisher 1 ,EXT-1, asset ,red;Floor-2,SN-9\nEXT-2\n"))
        #expect(file.columns == ["display_name", "external_ref", "type", "tags", "identifier.serialNumber"])
        #expect(file.rows.count == 2)
        #expect(file.rows[0].displayName == "Extinguisher 1" && file.rows[0].externalRef == "EXT-1" && file.rows[0].type == "asset")
        #expect(file.rows[0].identifiers == ["serialNumber": "SN-9"])
        #expect(file.rows[0].problem == nil)
        #expect(file.rows[1].line == 3)
        #expect(file.rows[1].problem == "has 1 fields where the header names 5 columns")
    }

    static let refusedFiles: [(String, String, Int, [String])] = [
        ("no external_ref column", "display_name,type\nA,asset\n", 422, ["/header"]),
        ("an unknown and a repeated column", "external_ref,dispaly_name,type,TYPE\nA,b,asset,asset\n", 422, ["/header/1", "/header/3"]),
        ("an identifier column without a valid name", "external_ref,identifier.\nA,b\n", 422, ["/header/1"]),
        ("an empty body", "", 422, []),
        ("a header without rows", "external_ref,type\n", 422, []),
        ("an unclosed quote", "external_ref\n\"EXT-1\n", 400, []),
    ]

    @Test("a body that is not a subject file is refused with a clear 4xx", arguments: refusedFiles)
    func fileRefused(name: String, text: String, status: Int, pointers: [String]) {
        do {
            _ = try SubjectImportFile.read(Self.bytes(text))
            Issue.record("\(name) was accepted")
        } catch let problem as Problem {
            #expect(problem.kind.status == status, "\(name): \(problem.detail)")
            #expect(problem.errors.map(\.pointer) == pointers, "\(name)")
        } catch {
            Issue.record("\(name): \(error)")
        }
    }

    @Test("more rows than the limit is 413")
    func tooManyRows() {
        let text = "external_ref\n" + (1...6).map { "EXT-\($0)" }.joined(separator: "\n")
        #expect(throws: Problem(.payloadTooLarge, "the file has more than 5 rows; split it into several imports")) {
            try SubjectImportFile.read(Self.bytes(text), maxRows: 5)
        }
        #expect(throws: Never.self) { try SubjectImportFile.read(Self.bytes(text), maxRows: 6) }
    }

    // MARK: Rows

    static let tenant = TenantID.generate()
    static let home = OrgUnitID.generate()
    static let elsewhere = OrgUnitID.generate()
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let ada = UserID.generate()
    static let bob = UserID.generate()

    static func existingAsset(_ ref: String, orgUnit: OrgUnitID = home) -> Subject {
        Subject(
            id: .generate(), tenantId: tenant, orgUnitId: orgUnit, type: .asset, displayName: "Extinguisher \(ref)", externalRef: ref, status: .active,
            tags: ["floor-1"], userId: nil, asset: AssetDetails(assetType: "extinguisher", identifiers: ["serialNumber": "SN-\(ref)"]),
            createdAt: now, updatedAt: now)
    }

    static func context(existing: [Subject] = [], reach: CapabilityReach = .orgUnits([home])) -> SubjectImportContext {
        SubjectImportContext(
            tenantId: tenant, reach: reach, defaultOrgUnit: home,
            existing: Dictionary(uniqueKeysWithValues: existing.map { ($0.externalRef!, $0) }),
            refsInUse: Set(existing.map { $0.externalRef! }).union(["HIDDEN-1"]),
            people: ["ada@example.org": ada, "bob@example.org": bob], peopleWithSubjects: [bob: nil], orgUnits: [home, elsewhere])
    }

    static func plan(_ text: String, _ context: SubjectImportContext = context()) throws -> SubjectImportPlan {
        SubjectImportPlan(try SubjectImportFile.read(bytes(text)), context: context, now: now)
    }

    @Test("new rows are created with every field they set; an asset needs its type, a person their email")
    func createRows() throws {
        let plan = try Self.plan(
            """
            external_ref,type,display_name,asset_type,tags,identifier.serialNumber,user_email
            EXT-1,asset,Extinguisher 1,Fire_Extinguisher,Red; floor-2 ;red,SN-1,
            P-1,User,Ada,,,,ADA@example.org
            LOC-1,location,Boiler room,,,,
            """)
        #expect(plan.rows.map(\.action) == [.create, .create, .create])
        #expect(plan.summary == SubjectImportSummary(plan.rows))
        #expect(plan.summary.create == 3)
        guard case .create(let asset) = plan.writes[0], case .create(let person) = plan.writes[1] else {
            Issue.record("expected creates")
            return
        }
        #expect(asset.asset == AssetDetails(assetType: "fire_extinguisher", identifiers: ["serialNumber": "SN-1"]))
        #expect(asset.tags == ["floor-2", "red"], "tags are lower-case keys, each once, sorted")
        #expect(asset.orgUnitId == Self.home)
        #expect(person.userId == Self.ada && person.asset == nil)
        let fields = plan.rows[0].changes?.map(\.field) ?? []
        #expect(fields == ["type", "orgUnitId", "displayName", "tags", "asset.assetType", "asset.identifiers.serialNumber"])
        #expect(plan.rows[0].changes?.allSatisfy { $0.from == nil } == true)
        #expect(plan.rows[1].changes?.map(\.field) == ["type", "orgUnitId", "userId", "displayName"], "no tags: no tags change")
        let stored = try WireJSON.makeDecoder().decode([SubjectImportRowResult].self, from: WireJSON.makeEncoder().encode(plan.rows))
        #expect(stored == plan.rows, "a preview reads back as it was made")
    }

    @Test("a row matching a subject by external ref updates only what differs; the same values are unchanged")
    func updateRows() throws {
        let one = Self.existingAsset("EXT-1"), two = Self.existingAsset("EXT-2")
        let plan = try Self.plan(
            """
            external_ref,display_name,tags,identifier.serialNumber,identifier.vin
            EXT-1,Extinguisher EXT-1,floor-1,SN-EXT-1,
            EXT-2,Renamed,,,V-2
            """, Self.context(existing: [one, two]))
        #expect(plan.rows.map(\.action) == [.unchanged, .update])
        #expect(plan.rows[0].subjectId == one.id && plan.rows[1].subjectId == two.id)
        #expect(plan.rows[1].changes == [
            SubjectFieldChange(field: "displayName", from: "Extinguisher EXT-2", to: "Renamed"),
            SubjectFieldChange(field: "tags", from: ["floor-1"], to: []),
            SubjectFieldChange(field: "asset.identifiers.serialNumber", from: "SN-EXT-2", to: nil),
            SubjectFieldChange(field: "asset.identifiers.vin", from: nil, to: "V-2"),
        ])
        guard case .update(let before, let after) = plan.writes.first else {
            Issue.record("expected an update")
            return
        }
        #expect(before == two && after.displayName == "Renamed" && after.asset?.identifiers == ["vin": "V-2"])
        #expect(after.changedFields(comparedWith: before) == ["displayName", "tags", "asset.identifiers"])
    }

    /// Each row: a name, a data row (under the header below), and the columns its errors must name.
    static let errorRows: [(String, String, [String?])] = [
        ("a missing external ref", ",asset,X,extinguisher,,", ["external_ref"]),
        ("an unknown type", "E-1,vehicle,X,,,", ["type"]),
        ("a new subject without type and name", "E-1,,,,,", ["type", "display_name"]),
        ("an asset without asset type", "E-1,asset,X,,,", ["asset_type"]),
        ("a location with an asset type", "E-1,location,X,van,,", ["asset_type"]),
        ("a person without email", "E-1,user,Ada,,,", ["user_email"]),
        ("an unknown email", "E-1,user,Ada,,nobody@example.org,", ["user_email"]),
        ("a person who already is a subject elsewhere", "E-1,user,Bob,,bob@example.org,", ["user_email"]),
        ("an asset linked to a person", "E-1,asset,X,van,ada@example.org,", ["user_email"]),
        ("an org unit outside reach", "E-1,location,X,,,\(elsewhere)", ["org_unit_id"]),
        ("something that is not an org unit id", "E-1,location,X,,,north", ["org_unit_id"]),
        ("an external ref of a subject outside reach", "HIDDEN-1,location,X,,,", ["external_ref"]),
    ]

    @Test("every error of a row is listed with its column and why", arguments: errorRows)
    func errorRow(name: String, row: String, columns: [String?]) throws {
        let plan = try Self.plan("external_ref,type,display_name,asset_type,user_email,org_unit_id\n\(row)\n")
        let result = try #require(plan.rows.first)
        #expect(result.action == .error, "\(name)")
        #expect(result.errors?.map(\.column) == columns, "\(name): \(result.errors ?? [])")
        #expect(result.errors?.allSatisfy { !$0.detail.isEmpty } == true)
        #expect(plan.writes.isEmpty)
    }

    @Test("duplicates within the file are errors on every line they appear on")
    func duplicatesInTheFile() throws {
        let plan = try Self.plan(
            """
            external_ref,type,display_name,user_email,tags
            P-1,user,Ada,ada@example.org,
            P-1,location,Room,,
            P-2,user,Ada again,Ada@Example.org,Not A Key
            """)
        #expect(plan.rows.map(\.action) == [.error, .error, .error])
        #expect(plan.rows[0].errors?.map(\.detail).contains("appears on lines 2, 3: a subject once per file") == true)
        #expect(plan.rows[2].errors?.map(\.column) == ["tags", "user_email"], "\(plan.rows[2].errors ?? [])")
        #expect(plan.rows[2].errors?.contains { $0.detail == "names the same person as lines 2" } == true)
        #expect(plan.summary.errors == 3)
    }

    @Test("an update may not change a subject's type or org unit, nor reach outside the importer's units")
    func updatesThatAreRefused() throws {
        let mine = Self.existingAsset("EXT-1"), theirs = Self.existingAsset("EXT-9", orgUnit: Self.elsewhere)
        let plan = try Self.plan(
            """
            external_ref,type,org_unit_id,display_name
            EXT-1,location,\(Self.elsewhere),New name
            EXT-9,,,New name
            """, Self.context(existing: [mine, theirs]))
        #expect(plan.rows.map(\.action) == [.error, .error])
        #expect(plan.rows[0].errors?.map(\.column) == ["type", "org_unit_id"])
        #expect(plan.rows[1].errors?.first?.detail.contains("outside your reach") == true)
        #expect(plan.writes.isEmpty)
        let wide = try Self.plan("external_ref,display_name\nEXT-9,New name\n", Self.context(existing: [theirs], reach: .tenantWide))
        #expect(wide.rows.map(\.action) == [.update], "a tenant-wide importer reaches every unit")
    }

    @Test("subject fields normalise keys and refuse what is not one")
    func fieldRules() throws {
        #expect(try SubjectFields.key(" Fire_Extinguisher ", pointer: "/k").get() == "fire_extinguisher")
        #expect(throws: Problem.FieldError.self) { try SubjectFields.key("two words", pointer: "/k").get() }
        #expect(throws: Problem.FieldError.self) { try SubjectFields.key("-lead", pointer: "/k").get() }
        var errors: [Problem.FieldError] = []
        #expect(SubjectFields.tags(["B", "a", "b"], pointer: "/tags", errors: &errors) == ["a", "b"])
        #expect(SubjectFields.tags(["ok", "not ok"], pointer: "/tags", errors: &errors) == nil)
        #expect(errors.map(\.pointer) == ["/tags/1"])
        errors = []
        #expect(SubjectFields.identifiers(["serialNumber": " SN-1 "], pointer: "/i", errors: &errors) == ["serialNumber": "SN-1"])
        #expect(SubjectFields.identifiers(["serial number": "x", "vin": ""], pointer: "/i", errors: &errors) == nil)
        #expect(errors.map(\.pointer) == ["/i/serial number", "/i/vin"])
        #expect(SubjectFields.metadata(["floor": 2], pointer: "/m").isEmpty)
        #expect(SubjectFields.metadata("text", pointer: "/m").map(\.pointer) == ["/m"])
    }

    @Test("a preview past its expiry reads as expired")
    func expiry() {
        let record = SubjectImport(
            id: .generate(), orgUnitId: Self.home, status: .previewed, createdBy: Self.ada, createdAt: Self.now,
            expiresAt: Self.now.addingTimeInterval(60), rows: [])
        #expect(record.status(at: Self.now) == .previewed)
        #expect(record.status(at: Self.now.addingTimeInterval(60)) == .expired)
    }
}
