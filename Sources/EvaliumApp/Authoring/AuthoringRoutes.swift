import EvaliumCore
import EvaliumStorage
import Foundation
import Hummingbird

/// The authoring world over HTTP: tag vocabularies, questions, evaluations, their versions and previews.
/// Everything here needs `authoring.manage`; reads take `?lang=` to project localized text.
struct AuthoringRoutes {
    let database: Database
    let taxonomies: TaxonomyService
    let questions: QuestionService
    let evaluations: EvaluationService
    let configuration: AppConfiguration

    func register(on router: Router<AppRequestContext>) {
        registerTaxonomies(on: router)
        registerQuestions(on: router)
        registerEvaluations(on: router)
    }

    private func registerTaxonomies(on router: Router<AppRequestContext>) {
        router.on(.post, "/v1/taxonomies", requires: .authoringManage) { request, context, access in
            let input = try await decode(TaxonomyService.NewTaxonomy.self, request)
            return try context.response(
                try await taxonomies.create(input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.get, "/v1/taxonomies", requires: .authoringManage) { request, _, access in
            try JSONBody.response(ItemList(items: try await taxonomies.list(access: access)), localizedFor: request)
        }
        router.on(.get, "/v1/taxonomies/:taxonomyId", requires: .authoringManage) { request, context, access in
            let id = try request.pathId("taxonomyId", context, as: TaxonomyID.self)
            return try JSONBody.response(try await taxonomies.taxonomy(id, access: access), localizedFor: request)
        }
        router.on(.patch, "/v1/taxonomies/:taxonomyId", requires: .authoringManage) { request, context, access in
            let id = try request.pathId("taxonomyId", context, as: TaxonomyID.self)
            let changes = try await decode(TaxonomyService.TaxonomyChanges.self, request)
            return try context.response(try await taxonomies.update(id, changes, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/taxonomies/:taxonomyId/tags", requires: .authoringManage) { request, context, access in
            let id = try request.pathId("taxonomyId", context, as: TaxonomyID.self)
            let input = try await decode(TaxonomyService.NewTag.self, request)
            return try context.response(
                try await taxonomies.addTag(input, to: id, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.patch, "/v1/tags/:tagId", requires: .authoringManage) { request, context, access in
            let id = try request.pathId("tagId", context, as: TagID.self)
            let changes = try await decode(TaxonomyService.TagChanges.self, request)
            return try context.response(try await taxonomies.updateTag(id, changes, access: access, runner: context.write(database, status: .ok)))
        }
    }

    private func registerQuestions(on router: Router<AppRequestContext>) {
        router.on(.post, "/v1/questions", requires: .authoringManage) { request, context, access in
            let input = try await decode(QuestionService.NewQuestion.self, request)
            return try context.response(
                try await questions.create(input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.get, "/v1/questions", requires: .authoringManage) { request, _, access in
            let filter = AuthoringFilter(
                kind: try request.query("kind", { ItemKind(rawValue: $0)?.rawValue }), status: try request.query("status", AuthoringStatus.init),
                orgUnitId: try request.query("orgUnitId", { OrgUnitID($0) }), tagId: try request.query("tagId", { TagID($0) }),
                after: try request.query("after", { QuestionID($0)?.rawValue }), limit: try request.pageLimit())
            return try JSONBody.response(try await questions.list(filter, access: access), localizedFor: request)
        }
        router.on(.get, "/v1/questions/:questionId", requires: .authoringManage) { request, context, access in
            let id = try request.pathId("questionId", context, as: QuestionID.self)
            return try JSONBody.response(try await questions.detail(id, access: access), localizedFor: request)
        }
        router.on(.patch, "/v1/questions/:questionId", requires: .authoringManage) { request, context, access in
            let id = try request.pathId("questionId", context, as: QuestionID.self)
            let changes = try await decode(IdentityChanges.self, request)
            return try context.response(try await questions.update(id, changes, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/questions/:questionId/versions", requires: .authoringManage) { request, context, access in
            let id = try request.pathId("questionId", context, as: QuestionID.self)
            let input = try await decode(QuestionService.NewDraft.self, request, whenEmpty: .init())
            return try context.response(
                try await questions.newDraft(id, input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.get, "/v1/questions/:questionId/versions/:version", requires: .authoringManage) { request, context, access in
            try JSONBody.response(try await questions.version(try questionPin(request, context), access: access), localizedFor: request)
        }
        router.on(.put, "/v1/questions/:questionId/versions/:version", requires: .authoringManage) { request, context, access in
            let pin = try questionPin(request, context)
            let input = try await decode(QuestionService.DraftContent.self, request)
            return try context.response(try await questions.updateDraft(pin, input, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/questions/:questionId/versions/:version/publish", requires: .authoringManage) { request, context, access in
            let pin = try questionPin(request, context)
            return try context.response(try await questions.publish(pin, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/questions/:questionId/versions/:version/archive", requires: .authoringManage) { request, context, access in
            let pin = try questionPin(request, context)
            return try context.response(try await questions.archiveVersion(pin, access: access, runner: context.write(database, status: .ok)))
        }
    }

    private func registerEvaluations(on router: Router<AppRequestContext>) {
        router.on(.post, "/v1/evaluations", requires: .authoringManage) { request, context, access in
            let input = try await decode(EvaluationService.NewEvaluation.self, request)
            return try context.response(
                try await evaluations.create(input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.get, "/v1/evaluations", requires: .authoringManage) { request, _, access in
            let filter = AuthoringFilter(
                kind: try request.query("kind", { EvaluationKind(rawValue: $0)?.rawValue }),
                status: try request.query("status", AuthoringStatus.init), orgUnitId: try request.query("orgUnitId", { OrgUnitID($0) }),
                after: try request.query("after", { EvaluationID($0)?.rawValue }), limit: try request.pageLimit())
            return try JSONBody.response(try await evaluations.list(filter, access: access), localizedFor: request)
        }
        router.on(.get, "/v1/evaluations/:evaluationId", requires: .authoringManage) { request, context, access in
            let id = try request.pathId("evaluationId", context, as: EvaluationID.self)
            return try JSONBody.response(try await evaluations.detail(id, access: access), localizedFor: request)
        }
        router.on(.patch, "/v1/evaluations/:evaluationId", requires: .authoringManage) { request, context, access in
            let id = try request.pathId("evaluationId", context, as: EvaluationID.self)
            let changes = try await decode(IdentityChanges.self, request)
            return try context.response(try await evaluations.update(id, changes, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.get, "/v1/evaluations/:evaluationId/preview", requires: .authoringManage) { request, context, access in
            let id = try request.pathId("evaluationId", context, as: EvaluationID.self)
            return try JSONBody.response(try await evaluations.preview(id, nil, access: access), localizedFor: request)
        }
        router.on(.post, "/v1/evaluations/:evaluationId/versions", requires: .authoringManage) { request, context, access in
            let id = try request.pathId("evaluationId", context, as: EvaluationID.self)
            let input = try await decode(EvaluationService.NewDraft.self, request, whenEmpty: .init())
            return try context.response(
                try await evaluations.newDraft(id, input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.get, "/v1/evaluations/:evaluationId/versions/:version", requires: .authoringManage) { request, context, access in
            let (id, number) = try evaluationVersion(request, context)
            return try JSONBody.response(try await evaluations.version(id, number, access: access), localizedFor: request)
        }
        router.on(.put, "/v1/evaluations/:evaluationId/versions/:version", requires: .authoringManage) { request, context, access in
            let (id, number) = try evaluationVersion(request, context)
            let input = try await decode(EvaluationService.DraftDefinition.self, request)
            return try context.response(
                try await evaluations.updateDraft(id, number, input, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.get, "/v1/evaluations/:evaluationId/versions/:version/preview", requires: .authoringManage) { request, context, access in
            let (id, number) = try evaluationVersion(request, context)
            return try JSONBody.response(try await evaluations.preview(id, number, access: access), localizedFor: request)
        }
        router.on(.post, "/v1/evaluations/:evaluationId/versions/:version/publish", requires: .authoringManage) { request, context, access in
            let (id, number) = try evaluationVersion(request, context)
            let options = try await decode(EvaluationService.PublishOptions.self, request, whenEmpty: .init())
            return try context.response(
                try await evaluations.publish(id, number, options, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/evaluations/:evaluationId/versions/:version/activate", requires: .authoringManage) { request, context, access in
            let (id, number) = try evaluationVersion(request, context)
            return try context.response(try await evaluations.activate(id, number, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/evaluations/:evaluationId/versions/:version/archive", requires: .authoringManage) { request, context, access in
            let (id, number) = try evaluationVersion(request, context)
            return try context.response(
                try await evaluations.archiveVersion(id, number, access: access, runner: context.write(database, status: .ok)))
        }
    }

    private func questionPin(_ request: Request, _ context: AppRequestContext) throws -> QuestionPin {
        QuestionPin(questionId: try request.pathId("questionId", context, as: QuestionID.self), version: try versionNumber(context))
    }

    private func evaluationVersion(_ request: Request, _ context: AppRequestContext) throws -> (EvaluationID, Int) {
        (try request.pathId("evaluationId", context, as: EvaluationID.self), try versionNumber(context))
    }

    private func versionNumber(_ context: AppRequestContext) throws -> Int {
        guard let text = context.parameters.get("version"), let number = Int(text), number >= 1 else {
            throw Problem(.notFound, "no such version (versions are numbered 1, 2, 3…)")
        }
        return number
    }

    /// Authored content is decoded strictly: a misspelt field is refused, never silently dropped.
    private func decode<Body: Codable>(_ type: Body.Type, _ request: Request) async throws -> Body {
        try await JSONBody.decodeStrictly(type, from: request, limit: configuration.maxRequestBodyBytes)
    }

    /// A body that may be left out entirely: no body means `whenEmpty`.
    private func decode<Body: Codable>(_ type: Body.Type, _ request: Request, whenEmpty: Body) async throws -> Body {
        try await JSONBody.decodeStrictly(type, from: request, limit: configuration.maxRequestBodyBytes, whenEmpty: whenEmpty)
    }
}
