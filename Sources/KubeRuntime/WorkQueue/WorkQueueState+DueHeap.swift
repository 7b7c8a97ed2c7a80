extension WorkQueueState {
    /// A key's place in ``DueHeap``.
    struct Entry {
        var key: Key
        var due: Duration
        /// Order of adds, to break ties between equal due times first-in, first-out.
        var sequence: UInt64

        func precedes(_ other: Entry) -> Bool {
            (due, sequence) < (other.due, other.sequence)
        }
    }

    /// A binary min-heap of entries, earliest due time first.
    ///
    /// Entries are never removed from the middle: a rescheduled key gets a second entry and
    /// ``WorkQueueState`` skips entries that no longer match the key's slot (lazy deletion).
    struct DueHeap {
        private var entries: [Entry] = []

        init() {}

        /// Builds a heap from unordered entries in O(n).
        init(_ unordered: [Entry]) {
            entries = unordered
            for index in stride(from: entries.count / 2 - 1, through: 0, by: -1) {
                siftDown(from: index)
            }
        }

        var first: Entry? { entries.first }

        /// Counts entries due at or before `now` that pass `include`, visiting only those
        /// entries and their direct children (a heap's descendants are never due earlier).
        func countEntries(dueBy now: Duration, where include: (Entry) -> Bool) -> Int {
            var count = 0
            var stack = entries.isEmpty ? [] : [0]
            while let index = stack.popLast() {
                let entry = entries[index]
                guard entry.due <= now else { continue }
                if include(entry) { count += 1 }
                for child in [2 * index + 1, 2 * index + 2] where child < entries.count { stack.append(child) }
            }
            return count
        }
        var count: Int { entries.count }

        mutating func insert(_ entry: Entry) {
            entries.append(entry)
            siftUp(from: entries.count - 1)
        }

        @discardableResult
        mutating func removeFirst() -> Entry? {
            guard !entries.isEmpty else { return nil }
            entries.swapAt(0, entries.count - 1)
            let first = entries.removeLast()
            if !entries.isEmpty { siftDown(from: 0) }
            return first
        }

        private mutating func siftUp(from start: Int) {
            var child = start
            while child > 0 {
                let parent = (child - 1) / 2
                guard entries[child].precedes(entries[parent]) else { return }
                entries.swapAt(child, parent)
                child = parent
            }
        }

        private mutating func siftDown(from start: Int) {
            var parent = start
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < entries.count, entries[left].precedes(entries[smallest]) { smallest = left }
                if right < entries.count, entries[right].precedes(entries[smallest]) { smallest = right }
                guard smallest != parent else { return }
                entries.swapAt(parent, smallest)
                parent = smallest
            }
        }
    }
}
