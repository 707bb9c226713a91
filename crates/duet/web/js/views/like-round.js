// The like round's panel in the room: the question, a countdown to its deadline, yes
// and no, and whether the partner has answered. The answer goes over HTTP
// (POST /chat/like); prompts, the partner's answer and the result come from the chat
// socket, and the room calls `show`, `partnerAnswered` and `hide`.

import { api } from '../api.js';
import { clockText, h } from '../dom.js';
import { t } from '../i18n.js';
import { announce, errorText, showBanner } from '../ui.js';

const EXPLAINED_KEY = 'duet.likeExplained';

/**
 * `resize(change)` runs a change that alters the panel's height (the room keeps the
 * newest message in view). `opts`: `{likeAfterSecs, kept()}` (the time from one round to
 * the next, `like_after_secs` of /meta/limits; whether both keep the room now).
 * Returns `{el, nextEl, show(round), partnerAnswered(), result(outcome, revealLevel),
 * scheduleNext(at), hide(), destroy()}`.
 *
 * What the round is, explained: the first round this browser sees comes with what it
 * does and what Keep changes; a round whose "no" would end the room says so (the rule:
 * two rounds in a row without both saying yes end a room not kept; the page counts the
 * room's rounds without a match in sessionStorage, `duet.nomatch.{room}`); and between
 * rounds a line says when the next one opens, until the photo is clear.
 */
export function likeRound(roomId, resize, opts = {}) {
  const el = h('div', { class: 'like-panel', hidden: true, role: 'region', 'aria-label': t('like.title') });
  const nextEl = h('p', { class: 'like-next muted', hidden: true, 'aria-live': 'off' });
  let round = null; // {round, deadline, answered, partnerAnswered, announced}
  let countdown = null;
  let nextAt = null;
  let nextTimer = null;
  const streakKey = `duet.nomatch.${roomId}`;
  const streak = () => Number(sessionStorage.getItem(streakKey) || 0);

  /** When the next round opens (a Date in ms), or null when no round is to come. */
  function scheduleNext(at) {
    nextAt = at;
    clearInterval(nextTimer);
    const tick = () => {
      const left = nextAt - Date.now();
      nextEl.hidden = Boolean(round) || !nextAt || left <= 0;
      if (!nextEl.hidden) nextEl.textContent = t('like.next', { time: clockText(left / 1000) });
      if (left <= 0) clearInterval(nextTimer);
    };
    tick();
    if (nextAt) nextTimer = setInterval(tick, 1000);
  }

  /** A round closed: the page's count of rounds without a match, and the next round. */
  function result(outcome, revealLevel) {
    sessionStorage.setItem(streakKey, String(outcome === 'mutual' ? 0 : streak() + 1));
    hide();
    scheduleNext(revealLevel < 2 && opts.likeAfterSecs ? Date.now() + opts.likeAfterSecs * 1000 : null);
  }

  /** A round is open: `{round, deadline, answered}` from a prompt or the connection frame. */
  function show(next) {
    // A reconnect reports the open round again: keep what the page already knew of it.
    const known = round?.round === next.round ? round : {};
    round = {
      ...next,
      answered: Boolean(next.answered || known.answered),
      partnerAnswered: Boolean(known.partnerAnswered),
      announced: Boolean(known.announced),
    };
    nextEl.hidden = true;
    resize(render);
  }

  function partnerAnswered() {
    if (!round) return;
    round.partnerAnswered = true;
    render();
  }

  function hide() {
    round = null;
    clearInterval(countdown);
    resize(() => {
      el.hidden = true;
      el.replaceChildren();
    });
  }

  async function answer(response, button) {
    const asked = round.round;
    // The round may close (like_result on the socket) before this answer's own response
    // arrives, or the room may be left: then there is nothing left to update.
    const stillOpen = () => round?.round === asked;
    const setButtons = (disabled) => el.querySelectorAll('button').forEach((b) => (b.disabled = disabled));
    setButtons(true);
    button.classList.add('chosen');
    try {
      await api('POST', `/chat/like/${roomId}`, { response });
    } catch (error) {
      if (!stillOpen()) return;
      if (error.code !== 'already_answered') {
        showBanner('like', 'error', errorText(error), 6);
        if (error.code === 'no_open_round' || error.code === 'room_ended') hide();
        else setButtons(false);
        return;
      }
    }
    if (!stillOpen()) return;
    round.answered = true;
    render();
  }

  function render() {
    clearInterval(countdown);
    const deadline = Date.parse(round.deadline);
    const clock = h('span', { class: 'countdown', role: 'timer' });
    const bar = h('span', { class: 'countdown-bar' });
    const total = Math.max(1000, deadline - Date.now());
    const tick = () => {
      const left = deadline - Date.now();
      clock.textContent = t('like.countdown', { time: clockText(left / 1000) });
      bar.style.transform = `scaleX(${Math.max(0, Math.min(1, left / total))})`;
      if (left <= 0) clearInterval(countdown);
    };
    const yes = h('button', { type: 'button', class: 'btn btn-primary like-yes', text: `❤ ${t('like.yes')}` });
    const no = h('button', { type: 'button', class: 'btn btn-secondary like-no', text: t('like.no') });
    yes.addEventListener('click', () => answer('yes', yes));
    no.addEventListener('click', () => answer('no', no));
    el.dataset.round = String(round.round);
    el.dataset.answered = String(round.answered);
    // The first round this browser sees explains itself (until "Got it").
    const explain = localStorage.getItem(EXPLAINED_KEY) ? null : h('div', { class: 'like-explain' },
      h('p', { text: t('like.explain') }),
      h('button', { type: 'button', class: 'btn btn-small btn-ghost like-explained', text: t('like.gotIt'), on: { click: () => {
        localStorage.setItem(EXPLAINED_KEY, '1');
        resize(render);
      } } }));
    // The round whose "no" would end the room says so.
    const decisive = streak() >= 1 && !opts.kept?.();
    el.dataset.decisive = String(decisive);
    el.replaceChildren(
      h('div', { class: 'like-text' },
        h('p', { class: 'like-title', text: t('like.title') }),
        h('p', { class: 'muted', text: round.answered ? t('like.waiting') : t('like.subtitle') }),
        decisive ? h('p', { class: 'like-warning', role: 'note', text: t('like.lastChance') }) : null,
        round.partnerAnswered && !round.answered ? h('p', { class: 'like-partner', text: t('like.partnerAnswered') }) : null,
        explain),
      h('div', { class: 'like-side' },
        clock,
        round.answered ? null : h('div', { class: 'like-buttons' }, no, yes)),
      h('div', { class: 'countdown-track', 'aria-hidden': 'true' }, bar));
    el.hidden = false;
    tick();
    countdown = setInterval(tick, 250);
    // Announced, not focused: focus would move out of the composer mid-sentence, and a
    // keystroke meant for the message could answer the round.
    if (!round.answered && !round.announced) {
      round.announced = true;
      announce(t('like.title'));
    }
  }

  function destroy() {
    round = null;
    clearInterval(countdown);
    clearInterval(nextTimer);
  }

  return { el, nextEl, show, partnerAnswered, result, scheduleNext, hide, destroy };
}
