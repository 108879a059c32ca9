package main

// The messages each subscription has not acknowledged, saved at shutdown and given back at start, so
// that a restart of the lab's emulator loses nothing (Pub/Sub itself never drops an unacked message).
//
// Only pstest's public API is used. Saving, once the network side is closed: a message a client held
// (leased) at shutdown is handed back first with a nack (ModifyAckDeadline 0), which needs its exact
// ack id; pstest's is "<message id>:<deliveries so far>", so every count up to the message's deliveries
// is tried (a wrong one is ignored). Then each subscription is drained with Pull and Acknowledge. The
// server's clock is held at the epoch meanwhile, so its 10-minute retention of pstest (Pub/Sub keeps 7
// days) drops nothing in the drain.
//
// Restoring: a subscription cannot be published to alone, so each topic's saved messages are published
// to it once (a message held by several subscriptions once), and each subscription of the topic then
// acknowledges the fresh copies it did not hold (a never-delivered message's ack id is its message id).
// No client is connected yet (gate.go), so none sees a copy that is not its subscription's.
//
// What a restart changes: message ids and publish times are new, delivery counts start again at zero,
// and every restored message is delivered again, leased or not.

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
)

// savedMessage is one unacknowledged message of one subscription.
type savedMessage struct {
	ID          string            `json:"id"` // the id before the restart; one message held by several subscriptions has one
	Data        []byte            `json:"data"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	OrderingKey string            `json:"orderingKey,omitempty"`
	PublishTime time.Time         `json:"publishTime"`
}

// deadLetterMargin is how many deliveries a dead-letter copy may have had on its own subscription,
// beyond its original's, and still be found when leased: its delivery count is not the original's.
const deadLetterMargin = 100

// drainBacklogs takes every unacknowledged message out of every subscription, by subscription name.
// The server must no longer serve clients (Close), since the drain acknowledges what it takes.
func drainBacklogs(server *pstest.Server, subscriptions []*pb.Subscription) (map[string][]savedMessage, error) {
	ctx := context.Background()
	server.SetTimeNowFunc(func() time.Time { return time.Unix(0, 0) })
	// What was published on each topic, with its deliveries; a dead-letter topic also gets what its
	// sources held, since a dead-lettered copy keeps its original's id.
	published := map[string][]*pstest.Message{}
	for _, message := range server.Messages() {
		published[message.Topic] = append(published[message.Topic], message)
	}
	sourcesOf := map[string][]string{}
	for _, subscription := range subscriptions {
		if policy := subscription.DeadLetterPolicy; policy != nil && policy.DeadLetterTopic != "" {
			sourcesOf[policy.DeadLetterTopic] = append(sourcesOf[policy.DeadLetterTopic], subscription.Topic)
		}
	}
	for _, subscription := range subscriptions {
		var ackIDs []string
		candidates := func(topic string, margin int) {
			for _, message := range published[topic] {
				for k := 1; k <= message.Deliveries+margin; k++ {
					ackIDs = append(ackIDs, fmt.Sprintf("%s:%d", message.ID, k))
				}
			}
		}
		candidates(subscription.Topic, 0)
		for _, source := range sourcesOf[subscription.Topic] {
			candidates(source, deadLetterMargin)
		}
		for first := 0; first < len(ackIDs); first += 10_000 {
			nack := &pb.ModifyAckDeadlineRequest{
				Subscription:       subscription.Name,
				AckIds:             ackIDs[first:min(first+10_000, len(ackIDs))],
				AckDeadlineSeconds: 0,
			}
			if _, err := server.GServer.ModifyAckDeadline(ctx, nack); err != nil {
				return nil, fmt.Errorf("subscription %s: %w", subscription.Name, err)
			}
		}
	}
	backlogs := map[string][]savedMessage{}
	// Until a whole pass takes nothing: an ordered subscription gives one message per key per pull.
	for progress := true; progress; {
		progress = false
		for _, subscription := range subscriptions {
			taken, err := drainOne(ctx, server, subscription.Name)
			if err != nil {
				return nil, fmt.Errorf("subscription %s: %w", subscription.Name, err)
			}
			if len(taken) > 0 {
				progress = true
				backlogs[subscription.Name] = append(backlogs[subscription.Name], taken...)
			}
		}
	}
	for _, messages := range backlogs {
		sortByPublication(messages)
	}
	return backlogs, nil
}

// drainOne pulls and acknowledges what one subscription delivers now.
func drainOne(ctx context.Context, server *pstest.Server, subscription string) ([]savedMessage, error) {
	var taken []savedMessage
	for {
		page, err := server.GServer.Pull(ctx, &pb.PullRequest{Subscription: subscription, MaxMessages: 1000, ReturnImmediately: true})
		if err != nil {
			return nil, err
		}
		if len(page.ReceivedMessages) == 0 {
			return taken, nil
		}
		ackIDs := make([]string, 0, len(page.ReceivedMessages))
		for _, received := range page.ReceivedMessages {
			message := received.Message
			taken = append(taken, savedMessage{
				ID:          message.MessageId,
				Data:        message.Data,
				Attributes:  message.Attributes,
				OrderingKey: message.OrderingKey,
				PublishTime: message.PublishTime.AsTime(),
			})
			ackIDs = append(ackIDs, received.AckId)
		}
		if _, err := server.GServer.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: subscription, AckIds: ackIDs}); err != nil {
			return nil, err
		}
	}
}

// restoreBacklogs gives each subscription back the messages saved for it. Topics and subscriptions
// must exist already.
func restoreBacklogs(server *pstest.Server, subscriptions []*pb.Subscription, backlogs map[string][]savedMessage) (int, error) {
	ctx := context.Background()
	// Per topic: its subscriptions, and its messages once each, in publication order.
	subscriptionsOf := map[string][]string{}
	for _, subscription := range subscriptions {
		subscriptionsOf[subscription.Topic] = append(subscriptionsOf[subscription.Topic], subscription.Name)
	}
	restored := 0
	for topic, names := range subscriptionsOf {
		held := map[string]map[string]bool{} // subscription → saved ids it holds
		seen := map[string]bool{}
		var messages []savedMessage
		for _, name := range names {
			held[name] = map[string]bool{}
			for _, message := range backlogs[name] {
				held[name][message.ID] = true
				if !seen[message.ID] {
					seen[message.ID] = true
					messages = append(messages, message)
				}
			}
		}
		if len(messages) == 0 {
			continue
		}
		sortByPublication(messages)
		for first := 0; first < len(messages); first += 1000 {
			batch := messages[first:min(first+1000, len(messages))]
			request := &pb.PublishRequest{Topic: topic}
			for _, message := range batch {
				request.Messages = append(request.Messages, &pb.PubsubMessage{
					Data:        message.Data,
					Attributes:  message.Attributes,
					OrderingKey: message.OrderingKey,
				})
			}
			response, err := server.GServer.Publish(ctx, request)
			if err != nil {
				return restored, fmt.Errorf("topic %s: %w", topic, err)
			}
			// Each subscription keeps the copies of what it held and acknowledges the others.
			for _, name := range names {
				var others []string
				for i, message := range batch {
					if !held[name][message.ID] {
						others = append(others, response.MessageIds[i])
					}
				}
				if len(others) == 0 {
					continue
				}
				if _, err := server.GServer.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: name, AckIds: others}); err != nil {
					return restored, fmt.Errorf("subscription %s: %w", name, err)
				}
			}
		}
		for _, name := range names {
			restored += len(backlogs[name])
		}
	}
	return restored, nil
}

// sortByPublication orders messages as they were published: by publish time, then by pstest's
// sequence number ("m17"), which breaks ties within one publish call.
func sortByPublication(messages []savedMessage) {
	sort.SliceStable(messages, func(i, j int) bool {
		a, b := messages[i], messages[j]
		if !a.PublishTime.Equal(b.PublishTime) {
			return a.PublishTime.Before(b.PublishTime)
		}
		return sequence(a.ID) < sequence(b.ID)
	})
}

func sequence(id string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "m"))
	if err != nil {
		return 0
	}
	return n
}
