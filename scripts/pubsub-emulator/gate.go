package main

// pstest starts serving the moment it listens, before the saved state is back. So it listens on a
// private loopback port, and the public address is a plain TCP relay to it, opened only once the
// state is restored: until then a client cannot connect (no subscription missing for a moment, no
// stream that receives a message in the middle of the restore), and the probe of `scripts/brokers`
// answers only when the server is whole.

import (
	"io"
	"log"
	"net"
	"sync"
)

type gate struct {
	listener net.Listener
	target   string
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	done     sync.WaitGroup
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
		go g.pipe(client, server)
		go g.pipe(server, client)
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

// pipe copies one direction; when either side ends, both are closed.
func (g *gate) pipe(to, from net.Conn) {
	_, _ = io.Copy(to, from)
	to.Close()
	from.Close()
	g.mu.Lock()
	delete(g.conns, to)
	delete(g.conns, from)
	g.mu.Unlock()
}

// close stops accepting and drops every relayed connection, so no client talks to the server after.
func (g *gate) close() {
	g.listener.Close()
	g.done.Wait()
	g.mu.Lock()
	conns := g.conns
	g.conns = nil
	g.mu.Unlock()
	for conn := range conns {
		conn.Close()
	}
}
