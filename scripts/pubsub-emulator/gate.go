package main

// pstest starts serving the moment it listens, before the saved state is back. So it listens on a
// private loopback port, and the public address is a plain TCP relay to it, opened only once the
// state is restored: until then a client cannot connect (no subscription missing for a moment, no
// stream that receives a message in the middle of the restore), and the probe of `scripts/brokers`
// answers only when the server is whole.

import (
	"log"
	"net"
	"sync"
	"sync/atomic"
)

type gate struct {
	listener net.Listener
	target   string
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	done     sync.WaitGroup
	// muted: client bytes are no longer passed on (see mute).
	muted atomic.Bool
}

// openGate listens on addr and relays every connection to target.
func openGate(addr, target string) (*gate, error) {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	g := &gate{listener: listener, target: target, conns: map[net.Conn]struct{}{}}
	g.done.Add(1)
	go g.accept()
	return g, nil
}

func (g *gate) accept() {
	defer g.done.Done()
	for {
		client, err := g.listener.Accept()
		if err != nil {
			return // closed
		}
		server, err := net.Dial("tcp", g.target)
		if err != nil {
			log.Printf("relay to %s: %v", g.target, err)
			client.Close()
			continue
		}
		if !g.track(client, server) {
			return
		}
		go g.pipe(server, client, true)
		go g.pipe(client, server, false)
	}
}

// track records a connection pair; false when the gate is already closed.
func (g *gate) track(pair ...net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns == nil {
		for _, conn := range pair {
			conn.Close()
		}
		return false
	}
	for _, conn := range pair {
		g.conns[conn] = struct{}{}
	}
	return true
}

// pipe copies one direction; when either side ends, both are closed. Client bytes (fromClient) are
// dropped once the gate is muted.
func (g *gate) pipe(to, from net.Conn, fromClient bool) {
	buffer := make([]byte, 32*1024)
	for {
		n, err := from.Read(buffer)
		if n > 0 && !(fromClient && g.muted.Load()) {
			if _, werr := to.Write(buffer[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	to.Close()
	from.Close()
	g.mu.Lock()
	delete(g.conns, to)
	delete(g.conns, from)
	g.mu.Unlock()
}

// mute stops accepting and stops passing on what clients send, while the server can still send to
// them. Used before the server is closed: pstest answers a stream's keep-alive ping with a blocking send
// to that stream while it holds its one lock, so a ping that arrives as the connection closes can hang
// the whole server; with no more requests passed on, none arrives then.
func (g *gate) mute() {
	g.muted.Store(true)
	g.listener.Close()
	g.done.Wait()
}

// close drops every relayed connection, so no client talks to the server after.
func (g *gate) close() {
	g.mute()
	g.mu.Lock()
	conns := g.conns
	g.conns = nil
	g.mu.Unlock()
	for conn := range conns {
		conn.Close()
	}
}
