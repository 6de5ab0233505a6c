/// An HDR (high dynamic range) histogram of latencies in microseconds: 64 linear sub-buckets per power of
/// two, so any value from 1 µs to hours is kept within 1.6 % in a fixed set of counters, and percentiles
/// are read without keeping the samples.
struct LatencyHistogram: Sendable {
    /// Values below 2⁷ are counted exactly; above, by their top seven bits and their magnitude.
    private static let exactBits = 7
    private var counts = [UInt64](repeating: 0, count: (64 - exactBits + 2) * 64)
    private(set) var total: UInt64 = 0
    private(set) var maximum: UInt64 = 0

    mutating func record(microseconds value: UInt64) {
        counts[Self.index(of: value)] += 1
        total += 1
        maximum = max(maximum, value)
    }

    mutating func merge(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        total += other.total
        maximum = max(maximum, other.maximum)
    }

    /// The value at or below which `fraction` of the recorded values lie, in milliseconds.
    func percentile(_ fraction: Double) -> Double {
        guard total > 0 else { return 0 }
        let rank = max(1, UInt64((fraction * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, count) in counts.enumerated() where count > 0 {
            seen += count
            if seen >= rank { return Double(min(Self.value(at: index), maximum)) / 1000 }
        }
        return Double(maximum) / 1000
    }

    var maximumMilliseconds: Double { Double(maximum) / 1000 }

    private static func index(of value: UInt64) -> Int {
        let magnitude = max(0, (64 - value.leadingZeroBitCount) - exactBits)
        return magnitude * 64 + Int(value >> UInt64(magnitude))
    }

    /// The middle of the bucket at `index`.
    private static func value(at index: Int) -> UInt64 {
        let magnitude = index < 128 ? 0 : index / 64 - 1
        let top = UInt64(index - magnitude * 64)
        return (top << UInt64(magnitude)) + ((1 << UInt64(magnitude)) >> 1)
    }
}
