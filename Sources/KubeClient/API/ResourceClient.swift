import Foundation
import KubeCore
import NIOCore
import NIOHTTP1

/// The REST verbs of one resource, optionally bound to a namespace (kube-rs' `Api<K>`).
///
/// Obtain one from ``KubernetesClient/resources(_:namespace:)`` or
/// ``KubernetesClient/dynamic(_:namespace:)``. Calls that name an object use the bound
/// namespace, or the object's own `metadata.namespace` when none is bound.
public struct ResourceClient<Object: KubernetesObject>: Sendable {
    public let client: KubernetesClient
    public let resource: APIResource
    /// The bound namespace; `nil` lists and watches across all namespaces.
    public let namespace: String?

    public init(client: KubernetesClient, resource: APIResource, namespace: String?) {
        self.client = client
        self.resource = resource
        self.namespace = resource.namespaced ? namespace : nil
    }

    // MARK: Read

    /// Reads one object.
    ///
    /// - Throws: ``APIError`` with `.notFound` when it does not exist.
    public func get(_ name: String) async throws -> Object {
        try await call(.GET, try path(name: name), as: Object.self)
    }

    /// Reads one object, or `nil` when it does not exist.
    public func getIfExists(_ name: String) async throws -> Object? {
        do {
            return try await get(name)
        } catch let error as APIError where error.reason == .notFound {
            return nil
        }
    }

    /// Lists one page (or everything, without a limit).
    ///
    /// Every item carries `apiVersion` and `kind`: the API server leaves them out of list items,
    /// and an object read by a list must look the same as one read by a get or a watch.
    public func list(_ options: ListOptions = ListOptions()) async throws -> ObjectList<Object> {
        var page = try await call(.GET, resource.path(namespace: namespace), query: options.query, verb: "LIST",
                                  as: ObjectList<Object>.self)
        page.items = page.items.map(typed)
        return page
    }

    /// `object` with the resource's `apiVersion` and `kind` where it has none.
    func typed(_ object: Object) -> Object {
        var object = object
        if object.apiVersion?.isEmpty ?? true { object.apiVersion = resource.apiVersion }
        if object.kind?.isEmpty ?? true { object.kind = resource.kind }
        return object
    }

    /// Lists every object, following continue tokens page by page.
    ///
    /// The result's resourceVersion is the snapshot all pages came from: watch from it to see
    /// every later change. If a continue token expires mid-way (410), the list restarts
    /// without paging, as client-go's pager does.
    public func listAll(_ options: ListOptions = ListOptions(), pageSize: Int = 500) async throws -> ObjectList<Object> {
        var pageOptions = options
        pageOptions.limit = pageSize
        var items: [Object] = []
        var snapshot: ListMeta?
        while true {
            let page: ObjectList<Object>
            do {
                page = try await list(pageOptions)
            } catch let error as APIError where error.reason == .gone && pageOptions.continueToken != nil {
                var full = options
                full.limit = nil
                return try await list(full)
            }
            items.append(contentsOf: page.items)
            if snapshot == nil { snapshot = page.metadata }
            guard let token = page.metadata.continue, !token.isEmpty else {
                var result = ObjectList<Object>(metadata: page.metadata, items: items)
                result.metadata.resourceVersion = snapshot?.resourceVersion ?? page.metadata.resourceVersion
                result.metadata.continue = nil
                result.apiVersion = page.apiVersion
                result.kind = page.kind
                return result
            }
            pageOptions.continueToken = token
            // Later pages must not name a resourceVersion: the continue token carries it.
            pageOptions.resourceVersion = nil
        }
    }

    /// Lists every object like ``listAll(_:pageSize:)``, but decodes the items one by one: an
    /// item the Swift type cannot decode is skipped and described in the result's
    /// ``DecodedList/undecodable``, so one bad object cannot hide the others.
    /// Items carry `apiVersion` and `kind`, as ``list(_:)``'s do.
    public func listAllSkippingUndecodable(_ options: ListOptions = ListOptions(), pageSize: Int = 500) async throws
        -> DecodedList<Object>
    {
        var pageOptions = options
        pageOptions.limit = pageSize
        var items: [Object] = []
        var undecodable: [UndecodableObject] = []
        var snapshot: String?
        while true {
            let page: LenientList<Object>
            do {
                page = try await call(.GET, resource.path(namespace: namespace), query: pageOptions.query, verb: "LIST",
                                      as: LenientList<Object>.self)
            } catch let error as APIError where error.reason == .gone && pageOptions.continueToken != nil {
                // The continue token expired: start again without paging, as client-go's pager does.
                var full = options
                full.limit = nil
                items.removeAll()
                undecodable.removeAll()
                snapshot = nil
                pageOptions = full
                continue
            }
            for item in page.items {
                switch item {
                case .decoded(let object): items.append(typed(object))
                case .undecodable(var record):
                    if record.apiVersion == nil { record.apiVersion = resource.apiVersion }
                    if record.kind == nil { record.kind = resource.kind }
                    undecodable.append(record)
                }
            }
            if snapshot == nil { snapshot = page.metadata.resourceVersion }
            guard let token = page.metadata.continue, !token.isEmpty else {
                var list = ObjectList<Object>(metadata: page.metadata, items: items)
                list.metadata.resourceVersion = snapshot ?? page.metadata.resourceVersion
                list.metadata.continue = nil
                list.apiVersion = page.apiVersion
                list.kind = page.kind
                return DecodedList(list: list, undecodable: undecodable)
            }
            pageOptions.continueToken = token
            pageOptions.resourceVersion = nil
        }
    }

    /// Watches like ``watch(_:watch:)``, but an event whose object the Swift type cannot decode
    /// arrives as ``WatchUpdate/undecodable(_:_:)`` (with its resourceVersion) instead of
    /// ending the stream.
    ///
    /// - Parameter onOpen: called when the API server has accepted the watch (a 2xx head):
    ///   proof the server answers even while the kind is quiet and no event or bookmark comes.
    public func watchSkippingUndecodable(_ options: ListOptions = ListOptions(), watch: WatchOptions = WatchOptions(),
                                         onOpen: (@Sendable () -> Void)? = nil)
        -> LenientWatchStream<Object>
    {
        var lines = self.watch(options, watch: watch).lines
        lines.onOpen = onOpen
        return LenientWatchStream(lines: lines, resource: resource)
    }

    /// Watches from `options.resourceVersion` (`nil`: from now, after synthetic ADDED events
    /// for what exists — prefer listing first and watching from the list's version).
    public func watch(_ options: ListOptions = ListOptions(), watch: WatchOptions = WatchOptions()) -> WatchStream<Object> {
        var query = options.query.filter { $0.0 != "limit" && $0.0 != "continue" }
        query.append(("watch", "1"))
        if watch.allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
        query.append(("timeoutSeconds", String(watch.timeoutSeconds)))
        return WatchStream(
            client: client, path: resource.path(namespace: namespace), query: query,
            resourceName: resource.description + (namespace.map { " in \($0)" } ?? ""),
            maxLineBytes: watch.maxEventBytes)
    }

    // MARK: Write

    /// Creates an object; its namespace is the bound one or its own.
    ///
    /// - Throws: ``APIError`` with `.alreadyExists` when the name is taken, `.invalid` with
    ///   field causes when validation fails.
    public func create(_ object: Object, fieldManager: String? = nil) async throws -> Object {
        let ns = try namespace(of: object)
        return try await call(
            .POST, resource.path(namespace: ns), query: fieldManager.map { [("fieldManager", $0)] } ?? [],
            body: try encode(object), as: Object.self)
    }

    /// Replaces an object whole (PUT). Its `metadata.resourceVersion` guards the write: a stale
    /// one fails with `.conflict`.
    public func replace(_ object: Object, fieldManager: String? = nil) async throws -> Object {
        try await call(
            .PUT, try path(of: object), query: fieldManager.map { [("fieldManager", $0)] } ?? [],
            body: try encode(object), as: Object.self)
    }

    /// Deletes an object. Returns the object when the server still holds it (finalizers or
    /// foreground deletion pending), `nil` when it is gone.
    @discardableResult
    public func delete(_ name: String, options: DeleteOptions = DeleteOptions()) async throws -> Object? {
        let response = try await client.send(
            method: .DELETE, path: try path(name: name), body: Array(try KubeJSON.encode(options)))
        return try? KubeJSON.decoder().decode(Object.self, from: Data(response.body.readableBytesView))
            .validatedObject()
    }

    /// Patches an object with a merge, JSON or strategic merge patch.
    public func patch(_ name: String, _ patch: Patch, fieldManager: String? = nil) async throws -> Object {
        try await call(
            .PATCH, try path(name: name), query: fieldManager.map { [("fieldManager", $0)] } ?? [],
            body: try patch.body(), contentType: patch.type.contentType, as: Object.self)
    }

    /// Server-side apply: declares the full intent of `fieldManager` for this object.
    ///
    /// Fields the manager set before and omits now are removed (if no one else owns them).
    /// Without `force`, taking a field another manager owns fails with `.conflict`.
    public func apply(_ object: Object, fieldManager: String, force: Bool = false) async throws -> Object {
        try await call(
            .PATCH, try path(of: object), query: applyQuery(fieldManager, force), body: try encode(object),
            contentType: PatchType.apply.contentType, as: Object.self)
    }

    // MARK: Status subresource

    /// Reads the object through its `status` subresource.
    public func getStatus(_ name: String) async throws -> Object {
        try await call(.GET, try path(name: name, subresource: "status"), as: Object.self)
    }

    /// Replaces `status` (the rest of the object is ignored by the server).
    public func replaceStatus(_ object: Object, fieldManager: String? = nil) async throws -> Object {
        try await call(
            .PUT, try path(of: object, subresource: "status"), query: fieldManager.map { [("fieldManager", $0)] } ?? [],
            body: try encode(object), as: Object.self)
    }

    /// Patches `status`.
    public func patchStatus(_ name: String, _ patch: Patch, fieldManager: String? = nil) async throws -> Object {
        try await call(
            .PATCH, try path(name: name, subresource: "status"), query: fieldManager.map { [("fieldManager", $0)] } ?? [],
            body: try patch.body(), contentType: patch.type.contentType, as: Object.self)
    }

    /// Server-side apply on `status`: the spec in `object` is ignored.
    public func applyStatus(_ object: Object, fieldManager: String, force: Bool = false) async throws -> Object {
        try await call(
            .PATCH, try path(of: object, subresource: "status"), query: applyQuery(fieldManager, force),
            body: try encode(object), contentType: PatchType.apply.contentType, as: Object.self)
    }

    // MARK: Scale subresource

    /// Reads the `scale` subresource (`autoscaling/v1` Scale).
    public func getScale(_ name: String) async throws -> Scale {
        try await call(.GET, try path(name: name, subresource: "scale"), as: Scale.self)
    }

    /// Writes the `scale` subresource; a `metadata.resourceVersion` in `scale` guards it.
    public func replaceScale(_ name: String, _ scale: Scale) async throws -> Scale {
        var scale = scale
        scale.apiVersion = scale.apiVersion ?? "autoscaling/v1"
        scale.kind = scale.kind ?? "Scale"
        if scale.metadata.name == nil { scale.metadata.name = name }
        if scale.metadata.namespace == nil { scale.metadata.namespace = namespace }
        return try await call(.PUT, try path(name: name, subresource: "scale"), body: Array(try KubeJSON.encode(scale)), as: Scale.self)
    }

    /// Sets `spec.replicas` through the scale subresource.
    public func scale(_ name: String, replicas: Int32) async throws -> Scale {
        var scale = Scale()
        scale.metadata = ObjectMeta(name: name, namespace: namespace)
        scale.spec = ScaleSpec(replicas: replicas)
        return try await replaceScale(name, scale)
    }

    // MARK: Plumbing

    private func applyQuery(_ fieldManager: String, _ force: Bool) -> [(String, String)] {
        var query = [("fieldManager", fieldManager)]
        if force { query.append(("force", "true")) }
        return query
    }

    private func namespace(of object: Object) throws -> String? {
        guard resource.namespaced else { return nil }
        if let namespace { return namespace }
        if let own = object.metadata.namespace, !own.isEmpty { return own }
        throw KubeClientError.configuration(
            "\(resource) \(object.metadata.name ?? "<unnamed>") has no namespace: bind the client to one or set metadata.namespace")
    }

    private func path(name: String, subresource: String? = nil) throws -> String {
        guard !name.isEmpty else {
            throw KubeClientError.configuration("a \(resource.kind) call needs an object name, and none was given")
        }
        if resource.namespaced && namespace == nil {
            throw KubeClientError.configuration(
                "\(resource) \(name): the client is not bound to a namespace; use resources(_:namespace:)")
        }
        return resource.path(namespace: namespace, name: name, subresource: subresource)
    }

    private func path(of object: Object, subresource: String? = nil) throws -> String {
        guard let name = object.metadata.name, !name.isEmpty else {
            throw KubeClientError.configuration("a \(resource.kind) without metadata.name cannot be written by name")
        }
        return resource.path(namespace: try namespace(of: object), name: name, subresource: subresource)
    }

    private func encode(_ object: Object) throws -> [UInt8] {
        var object = typed(object)
        if resource.namespaced, object.metadata.namespace == nil { object.metadata.namespace = namespace }
        return Array(try KubeJSON.encode(object))
    }

    private func call<T: Decodable>(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
        contentType: String = "application/json", verb: String? = nil, as type: T.Type
    ) async throws -> T {
        let response = try await client.send(
            method: method, path: path, query: query, body: body, contentType: contentType, verb: verb)
        do {
            return try KubeJSON.decoder().decode(T.self, from: Data(response.body.readableBytesView))
        } catch {
            throw KubeClientError.decoding(method: method.rawValue, path: path, type: "\(T.self)", underlying: "\(error)")
        }
    }
}

extension KubernetesObject {
    /// `self` unless this is a `Status` the server sent in place of the object.
    fileprivate func validatedObject() -> Self? {
        kind == "Status" ? nil : self
    }
}
