// Log in and sign up: one form, two modes. Errors of a field appear under it.

import { api, storeTokens } from '../api.js';
import { h, randomId } from '../dom.js';
import { t } from '../i18n.js';
import { errorText, field, fieldErrorText, formState, restoreForm } from '../ui.js';

/** `kept`: what the form held before the screen was rebuilt (a language change). */
export function authView(app, mode, kept = null) {
  const signup = mode === 'signup';
  const username = field('username', t('auth.username'),
    h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true, maxlength: app.limits.username_max_chars, autocapitalize: 'none', spellcheck: 'false' }),
    signup ? t('auth.usernameHint') : null);
  const password = field('password', t('auth.password'),
    h('input', { type: 'password', name: 'password', autocomplete: signup ? 'new-password' : 'current-password', required: true, maxlength: app.limits.password_max_chars }),
    signup ? t('auth.passwordHint') : null);
  const email = signup ? field('email', t('auth.email'), h('input', { type: 'email', name: 'email', autocomplete: 'email' })) : null;
  const fields = { username, password, email };
  const formError = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', text: t(signup ? 'auth.submitSignup' : 'auth.submitLogin') });

  const form = h('form', { class: 'stack', novalidate: true, on: { submit: onSubmit } },
    username.el, password.el, email?.el, formError, submit);

  async function onSubmit(event) {
    event.preventDefault();
    for (const f of Object.values(fields)) f?.setError('');
    formError.textContent = '';
    const body = { username: username.control.value.trim(), password: password.control.value };
    if (signup && email.control.value.trim()) body.email = email.control.value.trim();
    let missing = false;
    for (const key of ['username', 'password']) {
      if (!body[key]) {
        fields[key].setError(t('field.required'));
        missing = true;
      }
    }
    if (missing) return;
    submit.disabled = true;
    try {
      const res = await api('POST', signup ? '/auth/signup' : '/auth/login', body, { auth: false, headers: signup ? { 'X-Duet-Device': deviceId() } : {} });
      await storeTokens(res);
      await app.signedIn(res.user);
    } catch (error) {
      submit.disabled = false;
      if (error.code === 'validation_error') {
        for (const e of error.errors) {
          const text = fieldErrorText(e.field, e.message);
          if (fields[e.field]) fields[e.field].setError(text);
          else formError.textContent = text;
        }
      } else if (error.code === 'username_taken') username.setError(errorText(error));
      else if (error.code === 'email_taken') email.setError(errorText(error));
      // A ban and a rate limit have their banner (with the wait); not said twice.
      else if (error.code !== 'banned' && error.code !== 'rate_limited') formError.textContent = errorText(error);
    }
  }

  const el = h('section', { class: 'screen screen-auth' },
    h('div', { class: 'auth-hero' },
      h('img', { src: '/app/icon.svg', alt: '', class: 'auth-logo', width: 64, height: 64 }),
      h('h1', { text: 'Duet' }),
      h('p', { class: 'lead', text: t('auth.tagline') })),
    h('div', { class: 'card auth-card' },
      // Two links, not ARIA tabs: each is a page of its own (#/login, #/signup).
      h('nav', { class: 'tabs', 'aria-label': t('auth.modes') },
        h('a', { href: '#/signup', class: 'tab', 'aria-current': signup ? 'page' : null, text: t('auth.signup') }),
        h('a', { href: '#/login', class: 'tab', 'aria-current': signup ? null : 'page', text: t('auth.login') })),
      h('h2', { class: 'sr-only', text: t(signup ? 'auth.signup' : 'auth.login') }),
      form));
  restoreForm(kept, form);
  return { el, focus: username.control, keep: () => formState(form) };
}

/**
 * This browser's device id for sign-ups (a random id kept in localStorage): the server
 * counts sign-ups per device as well as per address, so the people behind one shared
 * address each have their own budget (docs/rules.md, Rate limits).
 */
function deviceId() {
  let id = localStorage.getItem('duet.device');
  if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) {
    id = `${randomId()}${randomId()}`.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 64);
    localStorage.setItem('duet.device', id);
  }
  return id;
}
