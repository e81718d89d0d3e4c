// Topic and resource matching for the local nucleus: MQTT topic filters (`+`, `#`) for delivering local and
// bridged messages, and the MQTT-style match of an authorization policy's resource against a request (`*` plus
// validly placed `+` / `#`), as the nucleus's WildcardTrie.matchesMQTT does for the pubsub and mqttproxy
// services. Pure functions; used by local-pubsub.ts, mqtt-bridge.ts and authorization.ts.

/** True when the MQTT topic filter matches the concrete topic (MQTT 3.1.1 section 4.7). */
export function mqttFilterMatches(filter: string, topic: string): boolean {
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  for (let index = 0; index < filterLevels.length; index += 1) {
    const level = filterLevels[index];
    if (level === '#') return index === filterLevels.length - 1;
    if (index >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[index]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

/** True when the string contains an MQTT wildcard level or character, as the nucleus's SubscriptionTrie checks. */
export function hasMqttWildcard(topic: string): boolean {
  return topic.includes('+') || topic.includes('#');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Turns a policy resource into a regular expression. `*` matches any characters; `+` matches any characters
 * but `/` when it fills a whole level; a trailing `/#` (or a lone `#`) matches the parent and everything below
 * it; misplaced `+` / `#` stay literal, as in the nucleus.
 */
function resourcePattern(resource: string): RegExp {
  let pattern = '';
  for (let index = 0; index < resource.length; index += 1) {
    const char = resource.charAt(index);
    const previous = index === 0 ? '/' : resource.charAt(index - 1);
    const next = index === resource.length - 1 ? '/' : resource.charAt(index + 1);
    const fillsLevel = previous === '/' && next === '/';
    if (char === '*') {
      pattern += '.*';
    } else if (char === '+' && fillsLevel) {
      pattern += '[^/]*';
    } else if (char === '#' && fillsLevel && index === resource.length - 1) {
      pattern = index === 0 ? '.*' : `${pattern.slice(0, -1)}(?:/.*)?`;
    } else {
      pattern += escapeRegExp(char);
    }
  }
  return new RegExp(`^${pattern}$`, 's');
}

/** True when a policy resource allows the requested resource (a topic, or a topic filter for subscriptions). */
export function resourceMatches(policyResource: string, requested: string): boolean {
  if (policyResource === requested) return true;
  return resourcePattern(policyResource).test(requested);
}
