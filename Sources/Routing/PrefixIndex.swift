/// Which prompt prefixes each endpoint was last sent, by hashed block of tokens: the state of
/// llm-d's estimating `prefix-cache-scorer` (it does not ask the servers what they cache; it
/// remembers where it routed).
///
/// A prompt is cut into blocks of ``blockSize`` tokens (the last partial block is not hashed);
/// each block's hash chains the hash of the block before it, so a hash stands for the whole
/// prefix up to its block's end. At most ``maxBlocksToMatch`` leading blocks are hashed. Each
/// endpoint keeps its ``capacityPerEndpoint`` most recently recorded blocks (least recently
/// used out).
public struct PrefixIndex: Sendable {
    public let blockSize: Int
    public let maxBlocksToMatch: Int
    public let capacityPerEndpoint: Int
    private var endpoints: [String: BlockLRU] = [:]

    /// - Parameters:
    ///   - blockSize: tokens per block; at least 1.
    ///   - maxBlocksToMatch: leading blocks hashed per prompt; at least 1.
    ///   - capacityPerEndpoint: blocks remembered per endpoint; at least 1.
    public init(blockSize: Int, maxBlocksToMatch: Int, capacityPerEndpoint: Int) {
        self.blockSize = max(1, blockSize)
        self.maxBlocksToMatch = max(1, maxBlocksToMatch)
        self.capacityPerEndpoint = max(1, capacityPerEndpoint)
    }

    /// The chained hashes of the prompt's full leading blocks (at most ``maxBlocksToMatch``).
    ///
    /// FNV-1a (64 bit) over the previous hash and the block's tokens, so hashes are the same in
    /// every process and run.
    public func blockHashes(_ tokens: [Substring]) -> [UInt64] {
        let blocks = min(tokens.count / blockSize, maxBlocksToMatch)
        var hashes: [UInt64] = []
        hashes.reserveCapacity(blocks)
        var previous: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64-bit offset basis
        for block in 0..<blocks {
            var hash = previous
            func mix(_ byte: UInt8) {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3  // FNV-1a 64-bit prime
            }
            for shift in stride(from: 0, to: 64, by: 8) { mix(UInt8(truncatingIfNeeded: previous >> UInt64(shift))) }
            for token in tokens[block * blockSize..<(block + 1) * blockSize] {
                for byte in token.utf8 { mix(byte) }
                mix(0x1F)  // a separator no token contains, so "ab c" and "a bc" differ
            }
            hashes.append(hash)
            previous = hash
        }
        return hashes
    }

    /// How many of `hashes`, from the first on, `endpoint` holds (consecutive: a prefix).
    public func matchedBlocks(_ hashes: [UInt64], endpoint: String) -> Int {
        guard let held = endpoints[endpoint] else { return 0 }
        var matched = 0
        for hash in hashes {
            guard held.contains(hash) else { break }
            matched += 1
        }
        return matched
    }

    /// Remembers that `endpoint` was sent a prompt with these blocks (they become its most
    /// recent ones).
    public mutating func record(_ hashes: [UInt64], endpoint: String) {
        guard !hashes.isEmpty else { return }
        var held = endpoints[endpoint] ?? BlockLRU(capacity: capacityPerEndpoint)
        for hash in hashes { held.touch(hash) }
        endpoints[endpoint] = held
    }

    /// Blocks `endpoint` holds now.
    public func heldBlocks(_ endpoint: String) -> Int { endpoints[endpoint]?.count ?? 0 }

    /// Forgets endpoints not in `current` (pods that left the pool).
    public mutating func retain(_ current: Set<String>) {
        endpoints = endpoints.filter { current.contains($0.key) }
    }
}

/// A least-recently-used set of block hashes: a use stamp per hash and a queue of (hash, stamp)
/// in use order, whose stale entries (re-used hashes) are skipped on eviction and compacted away.
struct BlockLRU: Sendable {
    let capacity: Int
    private var stamps: [UInt64: UInt64] = [:]
    private var order: [(hash: UInt64, stamp: UInt64)] = []
    private var head = 0
    private var clock: UInt64 = 0

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { stamps.count }

    func contains(_ hash: UInt64) -> Bool { stamps[hash] != nil }

    mutating func touch(_ hash: UInt64) {
        clock += 1
        stamps[hash] = clock
        order.append((hash, clock))
        while stamps.count > capacity, head < order.count {
            let oldest = order[head]
            head += 1
            if stamps[oldest.hash] == oldest.stamp { stamps[oldest.hash] = nil }
        }
        if head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
