import Foundation

/// Where the machine's CPU went during a fixed-rate phase, per answered request: the server, PostgreSQL (the
/// postmaster and every process it started, those that ended meanwhile included), the bench itself, and the
/// machine as a whole, with the shares of time it sat idle and its hypervisor took (steal).
///
/// The same code answered 1,249 subject reads a second in one run and 1,499 in another, and its p99 moved
/// eightfold between runs: rates and latencies follow the machine's state. What a request costs holds much
/// steadier, so runs on different days compare by it, and an idle share near zero says a missed rate was the
/// machine's two cores, not a wait.
struct CPUShare: Codable, Sendable {
    var serverMillisecondsPerRequest: Double
    var postgresMillisecondsPerRequest: Double
    var clientMillisecondsPerRequest: Double
    var machineMillisecondsPerRequest: Double
    var idlePercent: Double
    var stealPercent: Double
}

/// The counters a `CPUShare` is the difference of, read from /proc in clock ticks.
struct CPUCounters: Sendable {
    var server: Double
    var postgres: Double
    var client: Double
    var machineBusy: Double
    var machineIdle: Double
    var machineSteal: Double

    /// Every process PostgreSQL runs is the postmaster or a child of it, and a child that exits adds its time
    /// to the postmaster's own children's counters, so the sum misses nobody.
    static func read(serverPid: Int32?, postmasterPid: Int32?) -> CPUCounters {
        var postgres = 0.0
        if let postmasterPid, let postmaster = ProcessStat(pid: postmasterPid) {
            postgres = postmaster.ownTicks + postmaster.endedChildrenTicks
            let children = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap(Int32.init) ?? []
            for pid in children {
                if let child = ProcessStat(pid: pid), child.parent == postmasterPid { postgres += child.ownTicks }
            }
        }
        // /proc/stat's first line: user nice system idle iowait irq softirq steal (guest time is inside user).
        let machine = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8))?
            .prefix { $0 != "\n" }.split(separator: " ").dropFirst().compactMap { Double($0) } ?? []
        let field = { (index: Int) in index < machine.count ? machine[index] : 0 }
        return CPUCounters(
            server: serverPid.flatMap(ProcessStat.init(pid:))?.ownTicks ?? 0, postgres: postgres,
            client: ProcessStat(pid: getpid())?.ownTicks ?? 0,
            machineBusy: field(0) + field(1) + field(2) + field(5) + field(6), machineIdle: field(3) + field(4),
            machineSteal: field(7))
    }

    func share(since start: CPUCounters, requests: Int) -> CPUShare {
        let millisecondsPerTick = 1000 / Double(sysconf(Int32(_SC_CLK_TCK)))
        let perRequest = { (ticks: Double) in ticks * millisecondsPerTick / Double(max(requests, 1)) }
        let total = max((machineBusy + machineIdle + machineSteal) - (start.machineBusy + start.machineIdle + start.machineSteal), 1)
        return CPUShare(
            serverMillisecondsPerRequest: perRequest(server - start.server),
            postgresMillisecondsPerRequest: perRequest(postgres - start.postgres),
            clientMillisecondsPerRequest: perRequest(client - start.client),
            machineMillisecondsPerRequest: perRequest(machineBusy - start.machineBusy),
            idlePercent: (machineIdle - start.machineIdle) / total * 100, stealPercent: (machineSteal - start.machineSteal) / total * 100)
    }
}

/// The fields of /proc/PID/stat the bench reads.
struct ProcessStat {
    var parent: Int32
    /// utime + stime, in clock ticks.
    var ownTicks: Double
    /// cutime + cstime: the time of children that have exited and been waited for.
    var endedChildrenTicks: Double

    init?(pid: Int32) {
        // The name in parentheses may hold spaces; the fields after it are counted from its closing one.
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 14, let parent = Int32(fields[1]), let user = Double(fields[11]), let system = Double(fields[12]),
              let childrenUser = Double(fields[13]), let childrenSystem = Double(fields[14]) else { return nil }
        self.parent = parent
        ownTicks = user + system
        endedChildrenTicks = childrenUser + childrenSystem
    }
}
