import EvaliumCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Reading JSON request bodies and writing JSON responses, with every failure a clear 4xx problem.
enum JSONBody {
    /// Collects at most `limit` bytes (413 beyond), requires a JSON content type (415 otherwise) and
    /// decodes `T`: broken JSON is 400, JSON of the wrong shape or types is 422 with a JSON pointer.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        if let contentType = request.headers[.contentType], !isJSON(contentType) {
            throw Problem(.unsupportedMediaType, "send the body as application/json (got \(contentType))")
        }
        var request = request
        let buffer = try await collect(&request, limit: limit)
        let data = Data(buffer.readableBytesView)
        guard (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else {
            throw Problem(.malformedRequest, "the request body is not valid JSON")
        }
        do {
            return try WireJSON.makeDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw problem(from: error)
        } catch let problem as Problem {
            throw problem
        }
    }

    /// Collects the body, turning Hummingbird's size error into the problem type clients expect.
    static func collect(_ request: inout Request, limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw Problem(.payloadTooLarge, "the request body is larger than the limit of \(limit) bytes")
        } catch is NIOTooManyBytesError {
            throw Problem(.payloadTooLarge, "the request body is larger than the limit of \(limit) bytes")
        }
    }

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try WireJSON.makeEncoder().encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    private static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        return mediaType == "application/json" || mediaType.hasSuffix("+json")
    }

    private static func problem(from error: DecodingError) -> Problem {
        func pointer(_ path: [any CodingKey]) -> String {
            "/" + path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "/")
        }
        let field: Problem.FieldError
        switch error {
        case .typeMismatch(let type, let context):
            field = .init(pointer: pointer(context.codingPath), detail: "expected \(describe(type))")
        case .valueNotFound(let type, let context):
            field = .init(pointer: pointer(context.codingPath), detail: "expected \(describe(type)), got null")
        case .keyNotFound(let key, let context):
            field = .init(pointer: pointer(context.codingPath + [key]), detail: "is required")
        case .dataCorrupted(let context):
            field = .init(pointer: pointer(context.codingPath), detail: context.debugDescription)
        @unknown default:
            field = .init(pointer: "/", detail: "could not be read")
        }
        return Problem(.validationFailed, "the request body does not have the expected shape", errors: [field])
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        default: "a \(type)"
        }
    }
}

extension Optional {
    /// The wrapped value, or `error` thrown.
    func orThrow(_ error: @autoclosure () -> some Error) throws -> Wrapped {
        guard let self else { throw error() }
        return self
    }
}

/// Query-string parameters with the validation every list endpoint shares.
extension Request {
    /// `limit` (default 50, 1…`maximum`); anything else is a 422 naming the parameter.
    func pageLimit(maximum: Int = 200) throws -> Int {
        guard let text = uri.queryParameters.get("limit") else { return 50 }
        guard let value = Int(text), (1...maximum).contains(value) else {
            throw Problem(
                .validationFailed, "limit must be an integer from 1 to \(maximum)", errors: [.init(pointer: "limit", detail: "out of range")])
        }
        return value
    }

    /// An optional query parameter parsed by `parse`; a value that does not parse is a 422.
    func query<Value>(_ name: String, _ parse: (String) -> Value?) throws -> Value? {
        guard let text = uri.queryParameters.get(name) else { return nil }
        guard let value = parse(text) else {
            throw Problem(.validationFailed, "the query parameter `\(name)` is not valid", errors: [.init(pointer: name, detail: "invalid value")])
        }
        return value
    }

    /// A path parameter parsed as an id; a malformed id is a 404 like any unknown one.
    func pathId<ID: PrefixedIdentifier>(_ name: String, _ context: AppRequestContext, as type: ID.Type) throws -> ID {
        guard let text = context.parameters.get(name), let id = ID(text) else {
            throw Problem(.notFound, "no such \(name.replacingOccurrences(of: "Id", with: "")) (ids look like \(ID.prefix)_01HN…)")
        }
        return id
    }
}

/// A response that is a plain list: `{"items": [...]}`, so fields can be added later without breaking clients.
struct ItemList<Item: Encodable>: Encodable {
    var items: [Item]
}
