import EvaliumCore
import EvaliumStorage
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Subjects and their CSV imports over HTTP. Everything here needs `subjects.manage`; JSON bodies are
/// decoded strictly (an unknown field is a 422), import files are `text/csv`.
struct SubjectRoutes {
    let database: Database
    let subjects: SubjectService
    let imports: SubjectImportService
    let configuration: AppConfiguration

    func register(on router: Router<AppRequestContext>) {
        router.on(.post, "/v1/subjects", requires: .subjectsManage) { request, context, access in
            let input = try await decode(SubjectService.NewSubject.self, request)
            return try context.response(
                try await subjects.create(input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.get, "/v1/subjects", requires: .subjectsManage) { request, _, access in
            try JSONBody.response(try await subjects.list(try filter(request), access: access))
        }
        router.on(.get, "/v1/subjects/:subjectId", requires: .subjectsManage) { request, context, access in
            let id = try request.pathId("subjectId", context, as: SubjectID.self)
            return try JSONBody.response(try await subjects.view(id, scope: access.scope, actor: access.actor))
        }
        router.on(.patch, "/v1/subjects/:subjectId", requires: .subjectsManage) { request, context, access in
            let id = try request.pathId("subjectId", context, as: SubjectID.self)
            let changes = try await decode(SubjectService.SubjectChanges.self, request)
            return try context.response(try await subjects.update(id, changes, access: access, runner: context.write(database, status: .ok)))
        }

        router.on(.post, "/v1/subject-imports", requires: .subjectsManage) { request, context, access in
            let orgUnit = try request.query("orgUnitId", { OrgUnitID($0) })
            let file = try SubjectImportFile.read(try await csv(request))
            return try context.response(
                try await imports.preview(file, orgUnitId: orgUnit, access: access, runner: context.write(database, status: .created)),
                status: .created)
        }
        router.on(.get, "/v1/subject-imports/:importId", requires: .subjectsManage) { request, context, access in
            try JSONBody.response(try await imports.read(try request.pathId("importId", context, as: SubjectImportID.self), access: access))
        }
        router.on(.post, "/v1/subject-imports/:importId/commit", requires: .subjectsManage) { request, context, access in
            let id = try request.pathId("importId", context, as: SubjectImportID.self)
            return try context.response(try await imports.commit(id, access: access, runner: context.write(database, status: .ok)))
        }
    }

    private func filter(_ request: Request) throws -> SubjectFilter {
        var errors: [Problem.FieldError] = []
        let tags = request.uri.queryParameters.getAll("tag").compactMap { (tag: String) in
            SubjectFields.key(tag, pointer: "tag").collect(into: &errors)
        }
        let assetType = try request.query("assetType", { try? SubjectFields.key($0, pointer: "assetType").get() })
        guard errors.isEmpty else { throw Problem(.validationFailed, "the query parameter `tag` is not valid", errors: errors) }
        return SubjectFilter(
            type: try request.query("type", SubjectType.init(rawValue:)), assetType: assetType, tags: tags,
            identifier: request.uri.queryParameters.get("identifier").map { String($0) },
            externalRef: request.uri.queryParameters.get("externalRef").map { String($0) },
            status: try request.query("status", SubjectStatus.init(rawValue:)), text: request.uri.queryParameters.get("q").map { String($0) },
            orgUnitId: try request.query("orgUnitId", { OrgUnitID($0) }), after: try request.query("after", { SubjectID($0) }),
            limit: try request.pageLimit())
    }

    /// The body of a CSV upload: `text/csv` (UTF-8; 415 for anything else), at most the body limit (413).
    private func csv(_ request: Request) async throws -> [UInt8] {
        let contentType = request.headers[.contentType] ?? ""
        let parameters = contentType.lowercased().split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parameters.first == "text/csv",
              parameters.dropFirst().allSatisfy({ !$0.hasPrefix("charset=") || ["charset=utf-8", "charset=\"utf-8\""].contains($0) })
        else {
            throw Problem(.unsupportedMediaType, "send the import file as text/csv in UTF-8 (got \(contentType.isEmpty ? "no content type" : contentType))")
        }
        var request = request
        return Array(buffer: try await JSONBody.collect(&request, limit: configuration.maxRequestBodyBytes))
    }

    /// Subject requests are decoded strictly: a misspelt field is refused, never silently dropped.
    private func decode<Body: Codable>(_ type: Body.Type, _ request: Request) async throws -> Body {
        try await JSONBody.decodeStrictly(type, from: request, limit: configuration.maxRequestBodyBytes)
    }
}
