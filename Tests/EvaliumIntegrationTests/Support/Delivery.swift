@testable import EvaliumApp
import EvaliumCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Execution set-up over the real API: templates, subjects, assignments, sessions.
enum Delivery {
    /// A published, active evaluation of `kind` made of `questions` (JSON bodies for POST /v1/questions).
    static func publishedEvaluation(
        _ client: some TestClientProtocol, kind: EvaluationKind, questions: [String], extra: String = "", as author: SignedIn
    ) async throws -> EvaluationID {
        var ids: [QuestionID] = []
        for question in questions { ids.append(try await Authoring.question(client, question, as: author)) }
        let evaluation = try await Authoring.evaluation(client, kind: kind, questions: ids, extra: extra, as: author)
        let published = try await client.send(.post, "/v1/evaluations/\(evaluation)/versions/1/publish", as: author)
        #expect(published.status == .ok, "\(published.text)")
        return evaluation
    }

    static func subject(_ client: some TestClientProtocol, _ json: String, as person: SignedIn) async throws -> SubjectID {
        let response = try await client.send(.post, "/v1/subjects", json: json, as: person)
        #expect(response.status == .created, "\(response.text)")
        return try #require(SubjectID(try response.json()["id"]?.stringValue ?? ""))
    }

    static func assign(_ client: some TestClientProtocol, _ json: String, as person: SignedIn) async throws -> JSONValue {
        let response = try await client.send(.post, "/v1/assignments", json: json, as: person)
        #expect(response.status == .created, "\(response.text)")
        return try response.json()
    }

    /// Launches a session on `assignment` and returns its body.
    static func launch(_ client: some TestClientProtocol, _ assignment: String, as person: SignedIn) async throws -> JSONValue {
        let response = try await client.send(.post, "/v1/assignments/\(assignment)/sessions", as: person)
        #expect(response.status == .created, "\(response.text)")
        return try response.json()
    }

    /// The item ids of a session's form, in order.
    static func items(_ session: JSONValue) -> [String] {
        (session["form"]?["sections"]?.arrayValue ?? []).flatMap { $0["items"]?.arrayValue ?? [] }.compactMap { $0["id"]?.stringValue }
    }

    static func answer(
        _ client: some TestClientProtocol, _ session: String, _ item: String, _ json: String, as person: SignedIn
    ) async throws -> TestResponse {
        try await client.send(.put, "/v1/sessions/\(session)/items/\(item)", json: json, as: person)
    }

    /// Ledger events about one aggregate, read as `reader`.
    static func events(_ client: some TestClientProtocol, about id: String, as reader: SignedIn) async throws -> [JSONValue] {
        try await client.send(.get, "/v1/ledger/events?aggregateId=\(id)&limit=500", as: reader).json()["items"]?.arrayValue ?? []
    }
}

extension Delivery {
    /// A session `person` started on a new assignment of `evaluation` to themself, about `subjects`.
    struct Started {
        var assignmentId: String
        var sessionId: String
        var items: [String]
        var body: JSONValue
    }

    static func selfAssignedSession(
        _ client: some TestClientProtocol, evaluation: EvaluationID, subjects: [SubjectID] = [], as person: SignedIn
    ) async throws -> Started {
        let linked = subjects.enumerated().map { index, subject in
            #"{"subjectId":"\#(subject)","role":"\#(index == 0 ? "primary" : "secondary")"}"#
        }.joined(separator: ",")
        let assignment = try #require(
            try await assign(
                client, #"{"evaluationId":"\#(evaluation)","target":{"userId":"\#(person.userId)"},"subjects":[\#(linked)]}"#, as: person
            )["id"]?.stringValue)
        let session = try await launch(client, assignment, as: person)
        return Started(
            assignmentId: assignment, sessionId: try #require(session["session"]?["id"]?.stringValue), items: items(session), body: session)
    }
}
