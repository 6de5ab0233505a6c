import EvaliumCore
import Synchronization

/// The org unit and type of subjects this process has read, so that the next read of one can send its
/// `subject.viewed` event with it: one statement instead of a read and then an append.
///
/// An entry is only a guess. The database appends the event only if the subject still stands where the guess
/// says (`scoped_subject_viewed`); otherwise the read answers the subject as it is and the event is appended
/// for that, as without a guess. So an entry never needs to be forgotten when a subject moves, and it
/// never decides what anyone may read: the read runs under the reader's own row-level scope either way.
final class SubjectPlacements: Sendable {
    private struct Key: Hashable {
        var tenantId: TenantID
        var subjectId: SubjectID
    }

    /// The entries, and their keys in the order they were first kept, as a ring: when it is full, the
    /// oldest entry makes way for the newest.
    private struct Entries {
        var placements: [Key: SubjectPlacement] = [:]
        var ring: [Key] = []
        var oldest = 0
    }

    private let entries = Mutex(Entries())
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    func placement(of subjectId: SubjectID, in tenantId: TenantID) -> SubjectPlacement? {
        entries.withLock { $0.placements[Key(tenantId: tenantId, subjectId: subjectId)] }
    }

    func keep(_ subject: Subject) {
        let key = Key(tenantId: subject.tenantId, subjectId: subject.id)
        let placement = subject.placement
        entries.withLock { entries in
            guard entries.placements.updateValue(placement, forKey: key) == nil else { return }
            if entries.ring.count < capacity {
                entries.ring.append(key)
            } else {
                entries.placements[entries.ring[entries.oldest]] = nil
                entries.ring[entries.oldest] = key
                entries.oldest = (entries.oldest + 1) % capacity
            }
        }
    }
}
