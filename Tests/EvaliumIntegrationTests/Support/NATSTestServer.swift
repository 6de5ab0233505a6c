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

    private let directory: URL
    private let process = Mutex<RunningProcess?>(nil)
    /// Chosen by the server itself at the first start (a port picked here and let go could be taken by a
    /// concurrently starting test server first), and kept across restarts.
    private let port = Mutex<Int?>(nil)

    var url: String { "nats://127.0.0.1:\(port.withLock { $0 } ?? 0)" }

    /// `EVALIUM_TEST_NATS_SERVER`, else Debian's `/usr/sbin/nats-server`, else `nats-server` on PATH.
    static var binary: String? {
        if let configured = ProcessInfo.processInfo.environment["EVALIUM_TEST_NATS_SERVER"] { return configured }
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/nats-server" }
        return (["/usr/sbin/nats-server"] + path).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var isAvailable: Bool { binary != nil }

    private init(directory: URL) {
        self.directory = directory
    }

    static func start() async throws -> NATSTestServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let server = NATSTestServer(directory: directory)
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

    /// Starts the process (on its earlier port, or one it picks) and waits (15 s at most) until its log says
    /// which port it listens on and that port accepts connections.
    private func launch() async throws {
        guard let binary = Self.binary else { throw StartFailed(reason: "is not installed", log: "") }
        let log = directory.appendingPathComponent("nats-server.log").path
        let fixed = port.withLock { $0 }
        let started = try RunningProcess.start(
            [binary, "-js", "-a", "127.0.0.1", "-p", fixed.map(String.init) ?? "-1", "-sd", directory.appendingPathComponent("store").path],
            log: log)
        process.withLock { $0 = started }
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let listening = Self.listeningPort(in: text), await Self.accepts(port: listening) {
                port.withLock { $0 = listening }
                return
            }
            let reason = started.hasExited ? "exited" : ContinuousClock.now > deadline ? "did not listen within 15 s" : nil
            if let reason { throw StartFailed(reason: reason, log: text) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The port of the last "Listening for client connections on 127.0.0.1:PORT" line of the log.
    private static func listeningPort(in log: String) -> Int? {
        let marker = "Listening for client connections on 127.0.0.1:"
        guard let range = log.range(of: marker, options: .backwards) else { return nil }
        return Int(log[range.upperBound...].prefix { $0.isNumber })
    }

    private static func accepts(port: Int) async -> Bool {
        let connection = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(1))
            .connect(host: "127.0.0.1", port: port).get()
        try? await connection?.close()
        return connection != nil
    }
}
