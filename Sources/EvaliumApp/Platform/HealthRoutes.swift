import EvaliumCore
import EvaliumStorage
import Hummingbird
import NIOCore

/// `/healthz` (the process answers), `/readyz` (the database answers and its schema is exactly this
/// build's) and `/metrics` (Prometheus text).
struct HealthRoutes {
    let database: Database
    let migrations: [Migration]
    let metrics: MetricsRegistry

    struct Status: Encodable { var status: String }

    func register(on router: Router<AppRequestContext>) {
        router.get("/healthz") { _, _ in try JSONBody.response(Status(status: "ok")) }
        router.get("/readyz", use: ready)
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
        }
    }

    @Sendable func ready(_ request: Request, context: AppRequestContext) async throws -> Response {
        do {
            try await database.checkMigrationsCurrent(migrations)
        } catch let error as MigrationError {
            throw Problem(.serviceUnavailable, error.description)
        } catch {
            throw Problem(.serviceUnavailable, "the database is not reachable")
        }
        return try JSONBody.response(Status(status: "ready"))
    }
}
