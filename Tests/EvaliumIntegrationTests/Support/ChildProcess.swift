import Foundation
import Synchronization

/// Child processes for the tests, through posix_spawn, with waitpid on a thread of its own: not
/// Foundation's `Process` (seen here to miss a child's exit), nor a thread of the pool the server under
/// test runs on.
enum ChildProcess {
    struct SpawnFailed: Error, CustomStringConvertible {
        var program: String
        var code: Int32
        var description: String { "could not start \(program): \(String(cString: strerror(code)))" }
    }

    /// Runs `argv` (the program found on PATH unless it is a path) to its end, with `extra` added to this
    /// process's environment. `output` is what it wrote to stdout and stderr together; `status` is its exit
    /// status as a shell reports it. Still running after `timeout`, it is killed.
    static func run(_ argv: [String], timeout: Duration, environment extra: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString).log").path
        defer { unlink(log) }
        let process = try RunningProcess.start(argv, log: log, environment: extra)
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            process.signal(SIGKILL)
        }
        let status = await process.exitStatus
        watchdog.cancel()
        return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }
}

/// A child process that runs until stopped, writing stdout and stderr to the end of a log file.
final class RunningProcess: Sendable {
    private let pid: pid_t
    private let exit = Mutex(Exit())

    private struct Exit {
        var status: Int32?
        var waiters: [CheckedContinuation<Int32, Never>] = []
    }

    private init(pid: pid_t) {
        self.pid = pid
    }

    static func start(_ argv: [String], log: String, environment extra: [String: String] = [:]) throws -> RunningProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }.map { "\($0.key)=\($0.value)" }
        var cArguments = argv.map { strdup($0) } + [nil]
        var cEnvironment = environment.map { strdup($0) } + [nil]
        defer { (cArguments + cEnvironment).forEach { free($0) } }
        var pid: pid_t = 0
        let code = posix_spawnp(&pid, argv[0], &actions, nil, &cArguments, &cEnvironment)
        guard code == 0 else { throw ChildProcess.SpawnFailed(program: argv[0], code: code) }
        let process = RunningProcess(pid: pid)
        Thread { process.waitForExit() }.start()
        return process
    }

    /// The exit status as a shell reports it: the exit code, or 128 + the number of the signal that ended it.
    var exitStatus: Int32 {
        get async {
            await withCheckedContinuation { continuation in
                exit.withLock { exit in
                    if let status = exit.status {
                        continuation.resume(returning: status)
                    } else {
                        exit.waiters.append(continuation)
                    }
                }
            }
        }
    }

    var hasExited: Bool { exit.withLock { $0.status != nil } }

    /// Sends `signal` while the process exists. It is reaped under the same lock, and until then its id
    /// cannot belong to another process, so the signal never reaches a stranger.
    func signal(_ signal: Int32) {
        exit.withLock { exit in
            if exit.status == nil { kill(pid, signal) }
        }
    }

    /// SIGTERM (and SIGCONT, which a stopped process needs to act on it), then SIGKILL if it is still
    /// running 5 s later; returns once it is gone.
    func stop() async {
        signal(SIGTERM)
        signal(SIGCONT)
        let killer = Task {
            try await Task.sleep(for: .seconds(5))
            signal(SIGKILL)
        }
        _ = await exitStatus
        killer.cancel()
    }

    /// Blocks its thread until the process ends: waits without reaping, then reaps under the lock.
    private func waitForExit() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1, errno == EINTR {}
        let (status, waiters) = exit.withLock { exit in
            var raw: Int32 = 0
            while waitpid(pid, &raw, 0) == -1, errno == EINTR {}
            let terminatingSignal = raw & 0x7f
            let status = terminatingSignal == 0 ? (raw >> 8) & 0xff : 128 + terminatingSignal
            exit.status = status
            defer { exit.waiters = [] }
            return (status, exit.waiters)
        }
        for waiter in waiters { waiter.resume(returning: status) }
    }
}
