// The status socket (WS /ws/status): one per tab, open while signed in. It pushes the
// user's status, matches, search timeouts, room ends and bans; the app reacts to them.

import { ReconnectingSocket } from './socket.js';

/**
 * `handlers`: `status(update)`, `match(frame)`, `timeout()`, `roomEnded(frame)`,
 * `banned({until, permanent})`, `replaced()`, `sessionEnded()`, `connection(up)`
 * (the banner is connection.js's).
 */
export function openStatusSocket(handlers) {
  let ban = { until: null, permanent: false };
  const socket = new ReconnectingSocket(() => '/ws/status', {
    open: () => handlers.connection(true),
    down: () => handlers.connection(false),
    frame: (frame) => {
      switch (frame.type) {
        case 'status_update':
          handlers.status(frame);
          break;
        case 'match_found':
          handlers.match(frame);
          break;
        case 'search_timeout':
          handlers.timeout();
          break;
        case 'room_ended':
          handlers.roomEnded(frame);
          break;
        case 'banned':
          ban = { until: frame.until ?? null, permanent: Boolean(frame.permanent) };
          break;
        default:
          break;
      }
    },
    fatal: (code) => {
      handlers.connection(true);
      if (code === 4002) handlers.banned(ban);
      else if (code === 4007) handlers.replaced();
      else if (code === 4001) handlers.sessionEnded();
    },
  }, 'status');
  socket.connect();
  return socket;
}
