/* dispatch-send-secrets.c — the password and the OAuth2 token: from a file, a variable or the terminal.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "dispatch-send-secrets.h"

/* Longest password accepted at the terminal prompt; longer input is refused, not truncated. */
#define PROMPT_MAX_LENGTH 1024

/* As ssh does for a private key: a secret in a file that other users may read is used, but
 * not silently. Only regular files: a pipe (--password-file <(pass show …)) has no such
 * mode to fix. */
static void
warn_if_others_can_read (const char *option,
                         const char *path)
{
  g_autofree char *name = NULL;
  GStatBuf st;

  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode) || (st.st_mode & 0077) == 0)
    return;

  name = g_filename_display_name (path);
  g_printerr ("%s: ", PROGRAM_NAME);
  /* Translators: the first %s is an option (--password-file), then its file name, the mode
   * in octal (0644), and the file name again in the command that fixes it. */
  g_printerr (_("warning: %s “%s” can be read by other users (mode %04o); run chmod 600 “%s”\n"),
              option, name, (guint) (st.st_mode & 07777), name);
}

/* The first line of @path without its line end, as written by `echo secret > file` or by a
 * secret manager. The whole buffer is wiped, not only the line. */
static char *
read_secret_file (const char  *option,
                  const char  *path,
                  GError     **error)
{
  char *contents = NULL;
  gsize length = 0;
  const char *newline;
  gsize line_length;
  char *secret;

  if (!g_file_get_contents (path, &contents, &length, error))
    {
      g_prefix_error (error, "%s: ", option);
      return NULL;
    }

  warn_if_others_can_read (option, path);

  newline = memchr (contents, '\n', length);
  line_length = newline != NULL ? (gsize) (newline - contents) : length;
  while (line_length > 0 && contents[line_length - 1] == '\r')
    line_length--;

  secret = g_strndup (contents, line_length);
  explicit_bzero (contents, length);
  g_free (contents);

  return secret;
}

static volatile sig_atomic_t prompt_interrupted;

static void
on_prompt_signal (int signum)
{
  prompt_interrupted = 1;
}

static void
write_to_terminal (int         fd,
                   const char *utf8)
{
  g_autofree char *local = g_locale_from_utf8 (utf8, -1, NULL, NULL, NULL);
  const char *text = local != NULL ? local : utf8;
  gsize length = strlen (text);

  while (length > 0)
    {
      ssize_t n = write (fd, text, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      text += n;
      length -= (gsize) n;
    }
}

/* Asks on the controlling terminal rather than on stdin/stdout, so that a piped body or a
 * captured stdout never sees the prompt. Echo goes off, but Ctrl+C keeps working: its handler
 * only interrupts the read, so the terminal is always given its echo back. */
static char *
prompt_password (const char  *user,
                 const char  *host,
                 GError     **error)
{
  g_autofree char *prompt = NULL;
  struct termios saved_termios;
  struct termios silent_termios;
  struct sigaction interrupt_action;
  struct sigaction saved_sigint;
  struct sigaction saved_sigterm;
  char buffer[PROMPT_MAX_LENGTH];
  gsize length = 0;
  gboolean too_long = FALSE;
  int read_errno = 0;
  char c = '\0';
  char *password = NULL;
  int fd;

  fd = g_open ("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
  if (fd < 0 || tcgetattr (fd, &saved_termios) != 0)
    {
      if (fd >= 0)
        close (fd);
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           _("There is no terminal to ask for the password: "
                             "use --password-file or --password-env."));
      return NULL;
    }

  /* Translators: the prompt for the password, "ann@smtp.example.org". */
  prompt = g_strdup_printf (_("Password for %s@%s: "), user, host);
  write_to_terminal (fd, prompt);

  memset (&interrupt_action, 0, sizeof interrupt_action);
  interrupt_action.sa_handler = on_prompt_signal;
  sigemptyset (&interrupt_action.sa_mask);
  /* Deliberately without SA_RESTART: read() must return with EINTR. */
  interrupt_action.sa_flags = 0;
  prompt_interrupted = 0;
  sigaction (SIGINT, &interrupt_action, &saved_sigint);
  sigaction (SIGTERM, &interrupt_action, &saved_sigterm);

  silent_termios = saved_termios;
  silent_termios.c_lflag &= ~(tcflag_t) ECHO;
  tcsetattr (fd, TCSAFLUSH, &silent_termios);

  while (!prompt_interrupted)
    {
      ssize_t n = read (fd, &c, 1);

      if (n == 1)
        {
          if (c == '\n')
            break;
          if (length < sizeof buffer)
            buffer[length++] = c;
          else
            too_long = TRUE;
        }
      else if (n == 0)
        {
          break;
        }
      else if (errno != EINTR)
        {
          read_errno = errno;
          break;
        }
    }

  tcsetattr (fd, TCSAFLUSH, &saved_termios);
  sigaction (SIGINT, &saved_sigint, NULL);
  sigaction (SIGTERM, &saved_sigterm, NULL);
  /* The user's Enter was not echoed. */
  write_to_terminal (fd, "\n");
  close (fd);

  if (prompt_interrupted)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("cancelled"));
  else if (read_errno != 0)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (read_errno),
                 _("Cannot read the password from the terminal: %s"), g_strerror (read_errno));
  else if (too_long)
    dispatch_set_error (error, DISPATCH_ERROR_INVALID_INPUT, DISPATCH_SMTP_STAGE_AUTH, NULL,
                        _("Use --password-file for a longer password."),
                        _("The password is longer than %d bytes."), PROMPT_MAX_LENGTH);
  else
    password = g_strndup (buffer, length);

  explicit_bzero (buffer, sizeof buffer);
  explicit_bzero (&c, sizeof c);

  return password;
}

gboolean
dispatch_send_read_secrets (const DispatchSendOptions  *options,
              DispatchAccount            *account,
              char                      **out_password,
              char                      **out_token,
              GError                    **error)
{
  g_autoptr(DispatchSendSecret) password = NULL;
  g_autoptr(DispatchSendSecret) token = NULL;

  if (options->oauth2_token_file != NULL)
    {
      token = read_secret_file ("--oauth2-token-file", options->oauth2_token_file, error);
      if (token == NULL)
        return FALSE;
    }

  if (options->password_file != NULL)
    {
      password = read_secret_file ("--password-file", options->password_file, error);
      if (password == NULL)
        return FALSE;
    }
  else if (options->password_env != NULL)
    {
      const char *value = g_getenv (options->password_env);

      if (value == NULL)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--password-env: the environment variable “%s” is not set."),
                       options->password_env);
          return FALSE;
        }
      password = g_strdup (value);
    }
  else if (options->user != NULL && token == NULL)
    {
      if (!isatty (STDIN_FILENO))
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                               _("--user needs a password: give --password-file or --password-env, "
                                 "or run dispatch-send on a terminal to be asked for it."));
          return FALSE;
        }

      password = prompt_password (options->user, dispatch_account_get_host (account), error);
      if (password == NULL)
        return FALSE;
    }

  *out_password = g_steal_pointer (&password);
  *out_token = g_steal_pointer (&token);
  return TRUE;
}
