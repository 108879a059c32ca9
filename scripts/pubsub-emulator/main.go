// Command pubsub-emulator serves Google's pstest fake Pub/Sub server on a fixed address, for the
// Omnibus broker lab (scripts/brokers). Clients reach it with PUBSUB_EMULATOR_HOST=127.0.0.1:8085.
//
// pstest keeps everything in memory. So that `scripts/brokers restart pubsub` behaves like a restart of
// Pub/Sub, which keeps what it was given, the server writes its topics, its subscriptions and every
// message a subscription has not acknowledged to -state on SIGTERM/SIGINT, and gives them back at start
// (backlog.go says how, and what a restart changes).
//
// With -probe it is instead a client: it lists topics on -addr and exits 0 when the server answers.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8085", "host:port to listen on (or, with -probe, to call)")
	statePath := flag.String("state", "", "file keeping topics, subscriptions and unacked messages across restarts (none when empty)")
	probe := flag.Bool("probe", false, "call ListTopics on -addr and exit 0 when the server answers")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.LUTC)

	if *probe {
		if err := probeServer(*addr); err != nil {
			fmt.Fprintf(os.Stderr, "pubsub-emulator: %s does not answer: %v\n", *addr, err)
			os.Exit(1)
		}
		return
	}

	// Private until the state is back (gate.go).
	server := pstest.NewServerWithAddress("127.0.0.1:0")
	if *statePath != "" {
		if err := loadState(server, *statePath); err != nil {
			log.Fatalf("restoring %s: %v", *statePath, err)
		}
	}
	public, err := openGate(*addr, server.Addr)
	if err != nil {
		log.Fatalf("listening on %s: %v", *addr, err)
	}
	log.Printf("pstest Pub/Sub emulator listening on %s", *addr)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	received := <-signals
	log.Printf("%v: shutting down", received)
	status := 0
	// Closed first: no client acknowledges or receives anything while the backlogs are saved.
	public.close()
	if err := server.Close(); err != nil {
		log.Printf("closing: %v", err)
		status = 1
	}
	if *statePath != "" {
		if err := saveState(server, *statePath); err != nil {
			log.Printf("saving %s: %v", *statePath, err)
			status = 1
		}
	}
	os.Exit(status)
}

func probeServer(addr string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = pb.NewPublisherClient(conn).ListTopics(ctx, &pb.ListTopicsRequest{Project: "projects/omnibus-probe"})
	return err
}

// state is what survives a restart. Topics and subscriptions are stored as protobuf JSON, so every
// field the fake supports (ordering, dead-letter policy, filters, retry policy...) comes back; Backlogs
// holds each subscription's unacknowledged messages, by subscription name.
type state struct {
	Topics        []json.RawMessage         `json:"topics"`
	Subscriptions []json.RawMessage         `json:"subscriptions"`
	Backlogs      map[string][]savedMessage `json:"backlogs,omitempty"`
}

func saveState(server *pstest.Server, path string) error {
	ctx := context.Background()
	var saved state
	// An empty project prefix matches every project.
	for token := ""; ; {
		page, err := server.GServer.ListTopics(ctx, &pb.ListTopicsRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			return err
		}
		for _, topic := range page.Topics {
			raw, err := protojson.Marshal(topic)
			if err != nil {
				return err
			}
			saved.Topics = append(saved.Topics, raw)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	var subscriptions []*pb.Subscription
	for token := ""; ; {
		page, err := server.GServer.ListSubscriptions(ctx, &pb.ListSubscriptionsRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			return err
		}
		for _, subscription := range page.Subscriptions {
			raw, err := protojson.Marshal(subscription)
			if err != nil {
				return err
			}
			saved.Subscriptions = append(saved.Subscriptions, raw)
			subscriptions = append(subscriptions, subscription)
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	backlogs, err := drainBacklogs(server, subscriptions)
	if err != nil {
		return err
	}
	saved.Backlogs = backlogs
	data, err := json.MarshalIndent(saved, "", "  ")
	if err != nil {
		return err
	}
	// Write then rename, so a crash mid-write never leaves a truncated state behind.
	tmp := path + ".tmp"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	log.Printf("saved %d topics, %d subscriptions and %d unacked messages to %s",
		len(saved.Topics), len(saved.Subscriptions), countMessages(backlogs), path)
	return os.Rename(tmp, path)
}

func loadState(server *pstest.Server, path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var saved state
	if err := json.Unmarshal(data, &saved); err != nil {
		return err
	}
	ctx := context.Background()
	// Topics first: a subscription names its topic.
	for _, raw := range saved.Topics {
		topic := &pb.Topic{}
		if err := protojson.Unmarshal(raw, topic); err != nil {
			return err
		}
		if _, err := server.GServer.CreateTopic(ctx, topic); err != nil {
			return fmt.Errorf("topic %s: %w", topic.Name, err)
		}
	}
	var subscriptions []*pb.Subscription
	for _, raw := range saved.Subscriptions {
		subscription := &pb.Subscription{}
		if err := protojson.Unmarshal(raw, subscription); err != nil {
			return err
		}
		// One whose topic (or dead-letter topic) was deleted cannot be created again; the server
		// starts without it rather than not at all.
		if _, err := server.GServer.CreateSubscription(ctx, proto.Clone(subscription).(*pb.Subscription)); err != nil {
			log.Printf("subscription %s not restored: %v", subscription.Name, err)
			continue
		}
		subscriptions = append(subscriptions, subscription)
	}
	restored, err := restoreBacklogs(server, subscriptions, saved.Backlogs)
	if err != nil {
		return err
	}
	log.Printf("restored %d topics, %d subscriptions and %d unacked messages from %s",
		len(saved.Topics), len(subscriptions), restored, path)
	return nil
}

func countMessages(backlogs map[string][]savedMessage) int {
	count := 0
	for _, messages := range backlogs {
		count += len(messages)
	}
	return count
}
