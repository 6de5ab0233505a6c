import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A real `nats-server` with JetStream on a free loopback port, its store in a temporary directory
/// that `stop()` removes.
final class NATSTestServer: Sendable {
    struct StartFailed: Error, CustomStringConvertible {
        var reason: String
        var log: String
        var description: String { "nats-server \(reason); its log:\n\(log)" }
    }

    let url: String
    private let port: Int
    private let directory: URL
    private let process = Mutex<RunningProcess?>(nil)

    /// `EVALIUM_TEST_NATS_SERVER`, else Debian's `/usr/sbin/nats-server`, else `nats-server` on PATH.
    static var binary: String? {
        if let configured = ProcessInfo.processInfo.environment["EVALIUM_TEST_NATS_SERVER"] { return configured }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/nats-server" }
        return (["/usr/sbin/nats-server"] + path).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var isAvailable: Bool { binary != nil }

    private init(port: Int, directory: URL) {
        self.port = port
        self.directory = directory
        url = "nats://127.0.0.1:\(port)"
    }

    static func start() async throws -> NATSTestServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let server = NATSTestServer(port: try await freePort(), directory: directory)
        do {
            try await server.launch()
        } catch {
            await server.stop()
            throw error
        }
        return server
    }

    func stop() async {
        await process.withLock { $0.take() }?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops the server, runs `outage` while it is down, and starts it again on the same port with the
    /// same store, so JetStream keeps its streams and messages.
    func restart(during outage: () async throws -> Void = {}) async throws {
        await process.withLock { $0.take() }?.stop()
        try await outage()
        try await launch()
    }

    /// Freezes the server (SIGSTOP): its port stays open, but it answers nothing, like a hung server.
    func pause() {
        process.withLock { $0?.signal(SIGSTOP) }
    }

    func resume() {
        process.withLock { $0?.signal(SIGCONT) }
    }

    /// Starts the process and waits (15 s at most) until its port accepts connections.
    private func launch() async throws {
        guard let binary = Self.binary else { throw StartFailed(reason: "is not installed", log: "") }
        let log = directory.appendingPathComponent("nats-server.log").path
        let started = try RunningProcess.start(
            [binary, "-js", "-a", "127.0.0.1", "-p", "\(port)", "-sd", directory.appendingPathComponent("store").path], log: log)
        process.withLock { $0 = started }
        let deadline = ContinuousClock.now + .seconds(15)
        while !(await Self.accepts(port: port)) {
            let reason = started.hasExited ? "exited" : ContinuousClock.now > deadline ? "did not listen within 15 s" : nil
            if let reason {
                throw StartFailed(reason: reason, log: (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private static func accepts(port: Int) async -> Bool {
        let connection = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(1))
            .connect(host: "127.0.0.1", port: port).get()
        try? await connection?.close()
        return connection != nil
    }

    /// A port nothing listens on now: the kernel picks one, and it is let go for the server to take.
    private static func freePort() async throws -> Int {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = listener.localAddress?.port
        try await listener.close()
        guard let port else { throw StartFailed(reason: "had no free port", log: "") }
        return port
    }
}
