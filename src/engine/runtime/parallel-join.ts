/**
 * A converging parallel gateway with token semantics (BPMN 2.0 §13.4.2, as Camunda and Zeebe
 * join): it fires once a token has arrived on every incoming sequence flow, consumes one token per
 * flow, and leaves any further token for its next round.
 *
 * Why: bpmn-elements 17 joins by dead-path elimination. Discarded flows run on through every
 * activity, and an activity that merges flows (an exclusive gateway after an exclusive split or a
 * boundary event) runs twice, once for the token and once for the discard, and sends both on. Its
 * join fires once every incoming flow was *touched*, taken or discarded, and consumes every message
 * it holds. So a branch's late discard starts a round that never completes (the instance stays
 * active with nothing to wait for), and a branch's early discard lets the join fire before that
 * branch's token arrives (the instance goes on while a task of the branch still waits). bpmn-elements
 * 18 drops discarding; until then, this join ignores discards: a discard is no token.
 *
 * It replaces the activity's inbound handler (bpmn-elements' `Symbol.for('messageHandlers')`).
 * Held tokens stay unacknowledged in the activity's durable inbound queue, so they are in the saved
 * state and come back, in order, when a later transition recovers it.
 */

interface InboundMessage {
  fields: { routingKey: string };
  content: { id: string; [key: string]: unknown };
  readonly pending: boolean;
  ack(): void;
}

interface InboundFlow {
  id: string;
  broker: { publish(exchange: string, routingKey: string, content: unknown, properties: unknown): void };
}

interface JoinActivity {
  broker: { cancel(consumerTag: string): void };
  run(runContent: { inbound: unknown[] }): void;
}

const kFlags = Symbol.for('flags');
const kFlows = Symbol.for('flows');
const kMessageHandlers = Symbol.for('messageHandlers');

/** A bpmn-elements extension: installs the token join on every converging parallel gateway. */
export function parallelJoinExtension(activity: Record<symbol, any> & JoinActivity): undefined {
  if (!activity[kFlags]?.isParallelJoin) return undefined;
  const flows: InboundFlow[] = activity[kFlows].inboundSequenceFlows;
  const flowIds = flows.map((flow) => flow.id);
  let held: InboundMessage[] = [];
  activity[kMessageHandlers].onInbound = (routingKey: string, message: InboundMessage) => {
    if (routingKey !== 'flow.take') {
      message.ack();
      // The process execution holds each flow message until an activity takes it in; a discard loop
      // ends the same way (the flow's `looped` event), so the instance can still complete.
      const flow = flows.find((candidate) => candidate.id === message.content.id);
      flow?.broker.publish('event', 'flow.looped', { ...message.content, action: 'looped' }, { type: 'looped' });
      return;
    }
    // A stop or a cancelled consumer requeues what was held as new messages: forget the old ones.
    held = held.filter((candidate) => candidate.pending);
    held.push(message);
    const firstPerFlow = new Map<string, InboundMessage>();
    for (const candidate of held) if (!firstPerFlow.has(candidate.content.id)) firstPerFlow.set(candidate.content.id, candidate);
    if (flowIds.some((id) => !firstPerFlow.has(id))) return;
    const tokens = flowIds.map((id) => firstPerFlow.get(id)!);
    for (const token of tokens) token.ack();
    held = [];
    // Cancelling requeues the tokens left for the next round; the gateway consumes them again when it has run.
    activity.broker.cancel('_run-on-inbound');
    activity.run({ inbound: tokens.map((token) => JSON.parse(JSON.stringify(token.content))) });
  };
  return undefined;
}
