@testable import EvaliumApp
import EvaliumCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Authoring set-up over the real API, as an author would do it.
enum Authoring {
    static let quizQuestion = #"""
        {"kind":"single_choice","content":{"prompt":"What does a green pressure gauge mean?","points":2,
         "options":[{"id":"a","label":"Empty"},{"id":"b","label":"Charged and ready"}],
         "answerKey":{"correctOptionIds":["b"]},"explanation":"Green is the operating range."}}
        """#

    static let rubricCheck = #"""
        {"kind":"rubric","content":{"prompt":"Extinguisher pressure gauge is in the green",
         "options":[{"id":"pass","label":"Pass","points":1},
                    {"id":"fail","label":"Fail","points":0,"finding":true,"severity":"major","requiresEvidence":true,"requiresComment":true}],
         "evidence":{"allowedMediaTypes":["image/*"],"maxFiles":5}}}
        """#

    static let evidenceRequest = #"""
        {"kind":"evidence_request","content":{"prompt":"Photograph the inspection tag",
         "evidence":{"allowedMediaTypes":["image/jpeg","image/png","application/pdf"],"minFiles":1,"maxFiles":3,"noteRequired":true}}}
        """#

    /// Creates a question (version 1, a draft) and returns its id.
    static func question(_ client: some TestClientProtocol, _ json: String, as author: SignedIn) async throws -> QuestionID {
        let response = try await client.send(.post, "/v1/questions", json: json, as: author)
        #expect(response.status == .created, "\(response.text)")
        return try #require(QuestionID(try response.json()["question"]?["id"]?.stringValue ?? ""))
    }

    /// Creates an evaluation of `kind` whose one section pins the latest version of each question.
    static func evaluation(
        _ client: some TestClientProtocol, kind: EvaluationKind, questions: [QuestionID], extra: String = "", as author: SignedIn
    ) async throws -> EvaluationID {
        let response = try await client.send(.post, "/v1/evaluations", json: evaluationJSON(kind: kind, questions: questions, extra: extra), as: author)
        #expect(response.status == .created, "\(response.text)")
        return try #require(EvaluationID(try response.json()["evaluation"]?["id"]?.stringValue ?? ""))
    }

    static func evaluationJSON(kind: EvaluationKind, questions: [QuestionID], extra: String = "") -> String {
        let items = questions.map { #"{"questionId":"\#($0)"}"# }.joined(separator: ",")
        return #"{"kind":"\#(kind.rawValue)","definition":{"title":"A \#(kind.rawValue) template","sections":[{"title":"Checks","items":[\#(items)]}]\#(extra)}}"#
    }

    /// A quiz made of one question, published and active.
    static func publishedQuiz(_ client: some TestClientProtocol, as author: SignedIn) async throws -> EvaluationID {
        let question = try await question(client, quizQuestion, as: author)
        let quiz = try await evaluation(client, kind: .knowledge, questions: [question], extra: #","grading":{"passThreshold":0.5}"#, as: author)
        let published = try await client.send(.post, "/v1/evaluations/\(quiz)/versions/1/publish", as: author)
        #expect(published.status == .ok, "\(published.text)")
        return quiz
    }
}
