import EvaliumCore
import EvaliumStorage
import Foundation
import Hummingbird

/// The execution world over HTTP: issuing assignments, running delivery sessions, finalising and
/// reading submissions.
struct DeliveryRoutes {
    let database: Database
    let assignments: AssignmentService
    let delivery: DeliveryService
    let submissions: SubmissionService
    let tokens: TokenIssuer
    let configuration: AppConfiguration

    func register(on router: Router<AppRequestContext>) {
        router.on(.post, "/v1/assignments", requires: .assignmentsManage) { request, context, access in
            let input = try await decode(AssignmentService.NewAssignment.self, request)
            return try context.response(
                try await assignments.create(input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.post, "/v1/assignments/batch", requires: .assignmentsManage) { request, context, access in
            let input = try await decode(AssignmentService.NewBatch.self, request)
            return try context.response(
                try await assignments.createBatch(input, access: access, runner: context.write(database, status: .created)), status: .created)
        }
        router.on(.get, "/v1/assignments", requires: .assignmentsManage) { request, _, access in
            try JSONBody.response(try await assignments.list(try filter(request), access: access), localizedFor: request)
        }
        router.on(.get, "/v1/assignments/:assignmentId", requires: .assignmentsManage) { request, context, access in
            let id = try request.pathId("assignmentId", context, as: AssignmentID.self)
            return try JSONBody.response(try await assignments.assignment(id, access: access), localizedFor: request)
        }
        router.on(.post, "/v1/assignments/:assignmentId/withdraw", requires: .assignmentsManage) { request, context, access in
            let id = try request.pathId("assignmentId", context, as: AssignmentID.self)
            return try context.response(try await assignments.withdraw(id, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.get, "/v1/my/assignments", signedIn: { request, _, user in
            try JSONBody.response(try await assignments.mine(try filter(request), user: user), localizedFor: request)
        })

        router.on(.post, "/v1/assignments/:assignmentId/sessions", requires: .sessionsExecute) { request, context, access in
            let id = try request.pathId("assignmentId", context, as: AssignmentID.self)
            let input = try await JSONBody.decodeStrictly(
                DeliveryService.Launch.self, from: request, limit: configuration.maxRequestBodyBytes, whenEmpty: .init())
            let launched = try await delivery.launch(id, input, access: access, runner: context.write(database, status: .created))
            return try context.response(launched.view, status: launched.responseStatus)
        }
        router.on(.get, "/v1/sessions/:sessionId", requires: .sessionsExecute) { request, context, access in
            let id = try request.pathId("sessionId", context, as: AttemptID.self)
            return try JSONBody.response(try await delivery.session(id, access: access), localizedFor: request)
        }
        router.on(.put, "/v1/sessions/:sessionId/items/:itemId", requires: .sessionsExecute) { request, context, access in
            let id = try request.pathId("sessionId", context, as: AttemptID.self)
            let item = try request.pathId("itemId", context, as: ItemID.self)
            let input = try await decode(DeliveryService.ResponseInput.self, request)
            return try context.response(try await delivery.record(id, item: item, input, access: access, runner: context.write(database, status: .ok)))
        }
        router.on(.post, "/v1/sessions/:sessionId/events", requires: .sessionsExecute) { request, context, access in
            let id = try request.pathId("sessionId", context, as: AttemptID.self)
            let input = try await decode(DeliveryService.TelemetryInput.self, request)
            return try JSONBody.response(["accepted": try await delivery.telemetry(id, input, access: access)], status: .accepted)
        }
        router.on(.post, "/v1/sessions/:sessionId/submit", requires: .sessionsExecute) { request, context, access in
            let id = try request.pathId("sessionId", context, as: AttemptID.self)
            let input = try await JSONBody.decodeStrictly(
                DeliveryService.SubmitInput.self, from: request, limit: configuration.maxRequestBodyBytes, whenEmpty: .init())
            let tokens = tokens
            let finalised = try await delivery.submit(
                id, input, access: access, verifyStepUp: { try await StepUp.require(access.user, request: request, tokens: tokens) },
                runner: context.write(database, status: .created))
            return try context.response(finalised.view, status: finalised.responseStatus)
        }

        router.on(.post, "/v1/submissions/:submissionId/rework", requires: .sessionsExecute) { request, context, access in
            let id = try request.pathId("submissionId", context, as: SubmissionID.self)
            let launched = try await delivery.rework(id, access: access, runner: context.write(database, status: .created))
            return try context.response(launched.view, status: launched.responseStatus)
        }
        router.on(.get, "/v1/submissions", requires: .submissionsReview) { request, _, access in
            try JSONBody.response(try await submissions.list(try submissionFilter(request), access: access))
        }
        router.on(.get, "/v1/my/submissions", signedIn: { request, _, user in
            try JSONBody.response(try await submissions.mine(try submissionFilter(request), user: user))
        })
        router.on(.get, "/v1/review-queue", requires: .submissionsReview) { request, _, access in
            try JSONBody.response(try await submissions.queue(limit: try request.pageLimit(), access: access))
        }
        router.on(.get, "/v1/submissions/:submissionId", signedIn: { request, context, user in
            let id = try request.pathId("submissionId", context, as: SubmissionID.self)
            let view = try await submissions.read(id, user: user)
            // A localized read projects every text of the form, so only the envelope form is kept encoded.
            guard request.uri.queryParameters.get("lang") == nil else { return try JSONBody.response(view, localizedFor: request) }
            return try JSONBody.response(view)
        })
        router.on(.post, "/v1/submissions/:submissionId/grades", requires: .submissionsReview) { request, context, access in
            let id = try request.pathId("submissionId", context, as: SubmissionID.self)
            let input = try await decode(SubmissionService.GradeInput.self, request)
            return try context.response(try await submissions.grade(id, input, access: access, runner: context.write(database, status: .ok)))
        }
    }

    /// `POST /v1/submissions/{id}/approve | reject | request-changes | reopen`, each with its capability;
    /// amendments, the void and the history.
    func registerReview(on router: Router<AppRequestContext>, review: ReviewService, corrections: CorrectionService) {
        for (path, action) in [("approve", ReviewAction.approve), ("reject", .reject), ("request-changes", .requestChanges), ("reopen", .reopen)] {
            router.on(.post, RouterPath("/v1/submissions/:submissionId/\(path)"), requires: action.capability) { request, context, access in
                let id = try request.pathId("submissionId", context, as: SubmissionID.self)
                let decision = try await JSONBody.decodeStrictly(
                    ReviewService.Decision.self, from: request, limit: configuration.maxRequestBodyBytes, whenEmpty: .init())
                return try context.response(try await review.decide(id, action, decision, access: access, runner: context.write(database, status: .ok)))
            }
        }
        router.on(.post, "/v1/submissions/:submissionId/amendments", signedIn: { request, context, user in
            let id = try request.pathId("submissionId", context, as: SubmissionID.self)
            let input = try await decode(CorrectionService.AmendmentInput.self, request)
            return try context.response(
                try await corrections.amend(id, input, user: user, runner: context.write(database, status: .created)), status: .created)
        })
        router.on(.post, "/v1/submissions/:submissionId/void", requires: .submissionsVoid) { request, context, access in
            let id = try request.pathId("submissionId", context, as: SubmissionID.self)
            let input = try await decode(CorrectionService.VoidInput.self, request)
            let tokens = tokens
            return try context.response(
                try await corrections.void(
                    id, input, access: access, stepUp: { try await StepUp.require(access.user, request: request, tokens: tokens) },
                    runner: context.write(database, status: .ok)))
        }
        router.on(.get, "/v1/submissions/:submissionId/history", signedIn: { request, context, user in
            let id = try request.pathId("submissionId", context, as: SubmissionID.self)
            let includeViews = try request.query("includeViews", { Bool($0) }) ?? false
            return try JSONBody.response(try await corrections.history(id, user: user, includeViews: includeViews))
        })
    }

    private func filter(_ request: Request) throws -> AssignmentFilter {
        AssignmentFilter(
            evaluationId: try request.query("evaluationId", { EvaluationID($0) }), batchId: try request.query("batchId", { BatchID($0) }),
            targetUserId: try request.query("userId", { UserID($0) }), status: try request.query("status", AssignmentStatus.init),
            after: try request.query("after", { AssignmentID($0) }), limit: try request.pageLimit())
    }

    private func submissionFilter(_ request: Request) throws -> SubmissionFilter {
        SubmissionFilter(
            approvalStatus: try request.query("approvalStatus", ApprovalStatus.init), evaluationId: try request.query("evaluationId", { EvaluationID($0) }),
            assignmentId: try request.query("assignmentId", { AssignmentID($0) }), batchId: try request.query("batchId", { BatchID($0) }),
            operatorId: try request.query("operatorId", { UserID($0) }), voided: try request.query("voided", { Bool($0) }), after: try request.query("after", { SubmissionID($0) }),
            limit: try request.pageLimit())
    }

    private func decode<Body: Codable>(_ type: Body.Type, _ request: Request) async throws -> Body {
        try await JSONBody.decodeStrictly(type, from: request, limit: configuration.maxRequestBodyBytes)
    }
}
