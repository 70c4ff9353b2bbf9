import RackswarmCore

/// Where an agent listens: `HOST:PORT` (`[v6]:PORT` for IPv6 literals).
public typealias AgentAddress = HostPort
