import EvaliumCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

extension HTTPField.Name {
    static let requestId = HTTPField.Name("X-Request-ID")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}

/// Outermost middleware: gives each request an id (the client's `X-Request-ID` when it is sane),
/// echoes it, and writes one structured access-log line and the request metrics. The line holds
/// method, route template, status, duration, request id and tenant id: never bodies, emails, names or
/// tokens.
struct RequestObservationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let metrics: MetricsRegistry

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        if let supplied = request.headers[.requestId], Self.isAcceptable(supplied) {
            context.requestId = supplied
        }
        context.logger[metadataKey: "request_id"] = .string(context.requestId)
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            // Errors thrown past the problem middleware (there should be none) still get a problem body.
            response = ProblemMiddleware.response(
                ProblemMiddleware.problem(for: error), requestId: context.requestId, instance: request.uri.path)
        }
        response.headers[.requestId] = context.requestId
        let elapsed = ContinuousClock.now - started
        let route = context.endpointPath ?? "unmatched"
        metrics.recordRequest(method: request.method.rawValue, route: route, status: response.status.code, duration: elapsed)
        // The line is built inside the call, which swift-log evaluates only when it writes `info`: built before
        // it, the line was made for every request of a server logging warnings, and its `String(format:)` alone
        // was 1 % of the server's CPU under reads.
        context.logger.info(
            "request",
            metadata: Self.accessLine(
                method: request.method, route: route, status: response.status, elapsed: elapsed, tenantId: context.logFields.tenantId))
        return response
    }

    static func accessLine(
        method: HTTPRequest.Method, route: String, status: HTTPResponse.Status, elapsed: Duration, tenantId: TenantID?
    ) -> Logger.Metadata {
        var line: Logger.Metadata = [
            "method": .string(method.rawValue),
            "route": .string(route),
            "status": .stringConvertible(status.code),
            "duration_ms": .string(elapsed.millisecondsText),
        ]
        if let tenantId { line["tenant_id"] = .string(tenantId.rawValue) }
        return line
    }

    /// Client-supplied ids are echoed into logs and headers, so only short, plain ones are kept.
    static func isAcceptable(_ id: String) -> Bool {
        (1...128).contains(id.count)
            && id.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.:".unicodeScalars.contains($0)) }
    }
}

extension Duration {
    var milliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    /// Milliseconds with three decimals ("12.345"), for the access log.
    var millisecondsText: String {
        let microseconds = Int64((milliseconds * 1000).rounded())
        let fraction = String(microseconds % 1000)
        return "\(microseconds / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}

/// swift-log handler writing one JSON object per line: what log collectors parse without rules.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: JSONValue] = [
            "ts": .string(Date().rfc3339), "level": .string(event.level.rawValue), "msg": .string(event.message.description),
            "logger": .string(label),
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) {
            fields[key] = Self.json(value)
        }
        guard var line = try? CanonicalJSON.bytes(.object(fields)) else { return }
        line.append(UInt8(ascii: "\n"))
        FileHandle.standardOutput.write(Data(line))
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let values): .object(values.mapValues(json))
        }
    }
}
