import EvaliumCore
import Foundation
import Synchronization

/// Counts attempts per key in a sliding window, in this process. Behind a load balancer each
/// instance counts its own share, so the effective limit is the limit times the instance count.
final class RateLimiter: Sendable {
    private let attempts = Mutex<[String: [Date]]>([:])

    /// Records an attempt for `key`; throws 429 (with Retry-After) once `rule.limit` is reached in the window.
    func admit(_ key: String, under rule: RateLimit, now: Date = Date(), what: String) throws {
        let window = rule.window.seconds
        let retryAfter: TimeInterval? = attempts.withLock { attempts in
            var recent = (attempts[key] ?? []).filter { now.timeIntervalSince($0) < window }
            defer {
                attempts[key] = recent
                if attempts.count > 100_000 { attempts = attempts.filter { !$0.value.isEmpty } }
            }
            guard recent.count < rule.limit else { return window - now.timeIntervalSince(recent[0]) }
            recent.append(now)
            return nil
        }
        if let retryAfter {
            throw Problem(
                .rateLimited, "too many \(what); try again in \(Int(retryAfter.rounded(.up))) seconds",
                retryAfterSeconds: max(1, Int(retryAfter.rounded(.up))))
        }
    }
}
