import EvaliumCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Reading JSON request bodies and writing JSON responses, with every failure a clear 4xx problem.
enum JSONBody {
    /// Collects at most `limit` bytes (413 beyond), requires a JSON content type (415 otherwise) and
    /// decodes `T`: broken JSON is 400, JSON of the wrong shape or types is 422 with a JSON pointer.
    /// Plain text sent for localized fields is stored under the request's `Content-Language`.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        var request = request
        return try decoded(type, headers: request.headers, data: Data(try await collect(&request, limit: limit).readableBytesView)).value
    }

    /// `decode`, and also refuses (422, naming each) fields the server would otherwise ignore: for
    /// content where a misspelt rule must not silently vanish.
    static func decodeStrictly<T: Codable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        try await decodeStrictly(type, from: request, limit: limit, whenEmpty: nil)
    }

    /// `decodeStrictly`, where an empty body (with or without a content type) means `whenEmpty`.
    static func decodeStrictly<T: Codable>(_ type: T.Type, from request: Request, limit: Int, whenEmpty: T?) async throws -> T {
        var request = request
        let buffer = try await collect(&request, limit: limit)
        if buffer.readableBytes == 0, let whenEmpty { return whenEmpty }
        let data = Data(buffer.readableBytesView)
        let (value, sent) = try decoded(type, headers: request.headers, data: data)
        let unknown = sent.unknownFieldPointers(comparedWith: try JSONValue(encoding: value))
        guard unknown.isEmpty else {
            throw Problem(
                .validationFailed, "the request body has fields this endpoint does not know",
                errors: unknown.map { .init(pointer: $0, detail: "is not a known field") })
        }
        return value
    }

    /// Decodes collected body bytes under the request's content type and language, with the document as sent.
    /// Only a strict JSON text is decoded: a member name given twice (which JSON leaves undefined, and
    /// decoders resolve differently) is a 400, like broken syntax, not a silent choice of one value.
    private static func decoded<T: Decodable>(_ type: T.Type, headers: HTTPFields, data: Data) throws -> (value: T, document: JSONValue) {
        if let contentType = headers[.contentType], !isJSON(contentType) {
            throw Problem(.unsupportedMediaType, "send the body as application/json (got \(contentType))")
        }
        let decoder = WireJSON.makeDecoder()
        if let language = headers[.contentLanguage] {
            guard let locale = LocaleTag(language.trimmingCharacters(in: .whitespaces)) else {
                throw Problem(.malformedRequest, "Content-Language must be one BCP-47 language tag, such as en or fr-CA (got \(language))")
            }
            decoder.userInfo[.plainTextLocale] = locale
        }
        let document: JSONValue
        do {
            document = try JSONValue(parsing: data)
        } catch {
            throw Problem(.malformedRequest, "the request body is not valid JSON: \(error)")
        }
        do {
            return (try decoder.decode(T.self, from: data), document)
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
        let data = try wireBytes(value)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `value` as the API writes it: through its own shorter way when it has one.
    static func wireBytes(_ value: some Encodable) throws -> [UInt8] {
        if let encodesItself = value as? any WireEncodable { return try encodesItself.wireBytes() }
        return try WireJSONEncoder.encode(value)
    }

    /// A read of authored content (seed 001 §19.7): without `?lang=` every localized field is its
    /// envelope; with it, each is projected to one string and the body reports, as `locale`, the locale
    /// resolved and every field that fell back to another (also sent as `Content-Language`).
    static func response<T: Encodable>(_ value: T, localizedFor request: Request) throws -> Response {
        guard let requested = try request.query("lang", { LocaleTag($0) }) else { return try response(value) }
        let projection = LocaleProjection(requested: requested)
        let encoder = WireJSON.makeEncoder()
        encoder.userInfo[.localeProjection] = projection
        let data = try encoder.encode(Projected(value: value, projection: projection))
        var headers: HTTPFields = [.contentType: "application/json"]
        if let resolved = projection.report.resolved { headers[.contentLanguage] = resolved.rawValue }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `value`'s members plus `locale`; the report is encoded last, once every field has been projected.
    private struct Projected<Value: Encodable>: Encodable {
        let value: Value
        let projection: LocaleProjection

        enum CodingKeys: String, CodingKey { case locale }

        func encode(to encoder: any Encoder) throws {
            try value.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(projection.report, forKey: .locale)
        }
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
        case is LocalizedText.Type: "text, or {defaultLocale, locales}"
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

/// A response value with a shorter way to its wire bytes than encoding it whole; the bytes are the same.
protocol WireEncodable {
    func wireBytes() throws -> [UInt8]
}
