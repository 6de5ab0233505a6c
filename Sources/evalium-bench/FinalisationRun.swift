import EvaliumCore
import Foundation
import Synchronization

struct FinalisationResult: Codable, Sendable {
    var operators: Int
    var sessions: Int
    var seconds: Double
    var perSecond: Double
    var submit: EndpointFigures?
    var errors: Int
    var firstError: String?
}

/// Finalisations alone, like for like with the pgbench baseline: observation sessions are prepared first
/// (assignment, launch, all 30 answers, items 8 and 23 failed with their comments as in the baseline),
/// for `preparation` at most, then `operators` concurrent workers submit them as fast as the server
/// answers. Only the submissions are measured.
struct FinalisationRun: Sendable {
    let api: API
    let tenants: [SeededTenant]
    let operators: Int
    let preparation: Duration
    let maximumSessions: Int

    /// Preparing is not measured; eight at a time keeps the machine busy without queueing.
    static let preparers = 8

    /// `beforeSubmitting` runs between preparing and submitting, unmeasured.
    func run(beforeSubmitting: () async throws -> Void) async throws -> FinalisationResult {
        let sessions = try await prepare()
        try await beforeSubmitting()
        let recorder = Recorder()
        let outcome = Outcome()
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<operators {
                group.addTask {
                    while let (tenant, session) = sessions.take() {
                        do {
                            _ = try await Operator(api: api, tenant: tenant, recorder: recorder).submit(session)
                        } catch {
                            outcome.failed(error)
                        }
                    }
                }
            }
        }
        let seconds = (ContinuousClock.now - started).seconds
        let submit = recorder.figures(over: seconds).first
        return FinalisationResult(
            operators: operators, sessions: sessions.count, seconds: seconds, perSecond: Double(sessions.count) / seconds, submit: submit,
            errors: submit?.errors ?? 0, firstError: outcome.state.withLock { $0.firstError })
    }

    /// Sessions ready to submit, spread over `tenants`, with a progress bar over the preparation time.
    private func prepare() async throws -> PreparedSessions {
        let ready = PreparedSessions()
        let started = ContinuousClock.now
        let deadline = started + preparation
        let unmeasured = Recorder()
        let bar = ProgressBar(total: Int(preparation.seconds))
        let reporting = Task {
            while !Task.isCancelled, ContinuousClock.now < deadline {
                bar.show(Int((ContinuousClock.now - started).seconds))
                try? await Task.sleep(for: .seconds(1))
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<Self.preparers {
                group.addTask {
                    var round = worker
                    while ContinuousClock.now < deadline, ready.count < maximumSessions {
                        let tenant = tenants[round % tenants.count]
                        let session = try await Operator(api: api, tenant: tenant, recorder: unmeasured)
                            .prepareSession(observation: true, round: round, answers: .asInBaseline)
                        ready.add(tenant, session)
                        round += Self.preparers
                    }
                }
            }
            try await group.waitForAll()
        }
        reporting.cancel()
        bar.finish()
        return ready
    }
}

/// Sessions ready to submit: added by the preparers, then taken once each by the submitting workers.
final class PreparedSessions: Sendable {
    private let state = Mutex<(sessions: [(SeededTenant, String)], taken: Int)>(([], 0))

    func add(_ tenant: SeededTenant, _ session: String) { state.withLock { $0.sessions.append((tenant, session)) } }

    var count: Int { state.withLock { $0.sessions.count } }

    func take() -> (SeededTenant, String)? {
        state.withLock { state in
            guard state.taken < state.sessions.count else { return nil }
            defer { state.taken += 1 }
            return state.sessions[state.taken]
        }
    }
}
