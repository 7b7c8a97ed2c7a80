/// Ways to turn a trace into a heavier load for the pool simulator.
public enum RequestPlan {
    /// `copies` copies of `plan` interleaved: copy 0 as is, copy `k` shifted by a seeded offset
    /// uniform in `[0, maxOffset)`, wrapped into the plan's span, so the result covers the
    /// same span at `copies` times the rate, with the trace's request mix and its rate curve
    /// (at time scales above `maxOffset`) kept. Sorted by arrival; ties keep copy order.
    ///
    /// Compressing time instead (dividing timestamps by `copies`) would keep the count and
    /// shrink the span: one hour of trace would last six minutes at 10×, too short next to
    /// replica start-up times and scale-down windows to say anything about autoscaling.
    public static func interleaved(
        _ plan: [PlannedRequest], copies: Int, seed: UInt64, maxOffset: Duration = .seconds(60)
    ) -> [PlannedRequest] {
        guard copies > 1, let first = plan.min(by: { $0.at < $1.at }), let last = plan.max(by: { $0.at < $1.at }) else {
            return plan.sorted { $0.at < $1.at }
        }
        let span = last.at - first.at
        var random = SplitMix64(seed: seed)
        var result: [(PlannedRequest, Int, Int)] = []
        result.reserveCapacity(plan.count * copies)
        for copy in 0..<copies {
            let offset = copy == 0 ? Duration.zero : maxOffset * random.nextUnit()
            for (index, request) in plan.enumerated() {
                var shifted = request
                var at = request.at - first.at + offset
                if span > .zero, at > span { at -= span }
                shifted.at = first.at + at
                result.append((shifted, copy, index))
            }
        }
        result.sort { a, b in
            if a.0.at != b.0.at { return a.0.at < b.0.at }
            if a.1 != b.1 { return a.1 < b.1 }
            return a.2 < b.2
        }
        return result.map(\.0)
    }
}
