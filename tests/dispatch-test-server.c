/* dispatch-test-server.c — a scripted SMTP server on 127.0.0.1 for the engine and UI tests.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The script runs in one thread with blocking GIO calls. Every wait is bounded by the socket
 * timeout or an explicit deadline, and every wait takes the server's GCancellable, so _free can
 * end a script that is still waiting for a client that never comes.
 *
 * Received bytes go through one buffer of our own rather than a GDataInputStream, for two
 * reasons: the TLS upgrade must know exactly which bytes arrived in clear, and "expect!" must
 * know which bytes had arrived by the time a reply was written.
 */

#include "dispatch-test-server.h"

#include <string.h>

#define IO_TIMEOUT_S       15
#define ACCEPT_TIMEOUT_S   30   /* UI tests may take a while to fill the form first */
#define STALL_S            30
#define PIPELINE_GRACE_MS  2000
#define MAX_COMMAND_LINE   (64 * 1024)
#define MAX_MESSAGE        (256 * 1024 * 1024)
#define ENDLESS_LIMIT      (16 * 1024 * 1024)
#define CHUNK_SIZE         16384   /* per read, and per write of "endless" */
#define DESCRIBE_MAX       300

typedef enum {
  STEP_SEND,
  STEP_SEND_RAW,
  STEP_EXPECT,
  STEP_EXPECT_PIPELINED,
  STEP_TLS,
  STEP_DATA,
  STEP_DATA_PARTIAL,
  STEP_BDAT,
  STEP_CLOSE,
  STEP_STALL,
  STEP_SLEEP,
  STEP_ENDLESS,
  STEP_DRIP,
  STEP_RECONNECT,
} StepKind;

typedef struct {
  StepKind  kind;
  char     *text;     /* the script line as written, for error messages */
  char     *pattern;  /* expect, expect! */
  GBytes   *bytes;    /* send (CRLF included), send-raw */
  guint64   count;    /* data-partial: bytes; sleep, drip: milliseconds */
} Step;

struct _DispatchTestServer
{
  /* Written before the thread starts, only read by it */
  GPtrArray    *steps;
  char         *cert_file;
  char         *key_file;
  GCancellable *cancellable;

  /* Owned by the calling thread */
  GThread      *thread;
  gboolean      joined;

  /* Shared, under @lock */
  GMutex        lock;
  gboolean      done;
  GMainContext *finish_context;

  /* Owned by the server thread until it is joined, then read by the caller */
  GSocket      *listener;
  GSocket      *socket;
  GIOStream    *stream;              /* the TCP connection, or the TLS connection over it */
  guint         n_reconnects;        /* connections still to accept after the current one */
  GByteArray   *buffer;              /* received and not yet used by a step */
  gsize         scanned;             /* leading bytes of @buffer known to hold no LF */
  guint64       consumed;            /* stream offset of @buffer's first byte */
  guint64       received_at_reply;   /* stream offset of @buffer's end at the last reply */
  gboolean      write_closed;
  gboolean      peer_gone;
  GByteArray   *received;
  GByteArray   *chunked_message;     /* BDAT chunks so far, until LAST */
  GPtrArray    *messages;            /* GBytes */
  GError       *error;
};

static void
step_free (gpointer data)
{
  Step *step = data;

  g_free (step->text);
  g_free (step->pattern);
  g_clear_pointer (&step->bytes, g_bytes_unref);
  g_free (step);
}

/* Bytes as a quoted C-like string, shortened: error messages must show CR, LF and binary junk. */
static char *
describe (const guint8 *data,
          gsize         len)
{
  GString *out = g_string_new ("\"");

  for (gsize i = 0; i < len && i < DESCRIBE_MAX; i++)
    {
      guint8 c = data[i];

      switch (c)
        {
        case '\r': g_string_append (out, "\\r"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '"':  g_string_append (out, "\\\""); break;
        default:
          if (c < 0x20 || c >= 0x7f)
            g_string_append_printf (out, "\\x%02x", c);
          else
            g_string_append_c (out, (char) c);
        }
    }
  g_string_append_c (out, '"');
  if (len > DESCRIBE_MAX)
    g_string_append_printf (out, "… (%" G_GSIZE_FORMAT " bytes)", len);

  return g_string_free (out, FALSE);
}

/* Script parsing */

static int
hex_value (char c)
{
  return g_ascii_isxdigit (c) ? g_ascii_xdigit_value (c) : -1;
}

static GBytes *
unescape_raw (const char *text,
              guint       line_no)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();

  for (const char *p = text; *p != '\0'; p++)
    {
      guint8 c = (guint8) *p;

      if (c == '\\')
        {
          p++;
          switch (*p)
            {
            case 'r':  c = '\r'; break;
            case 'n':  c = '\n'; break;
            case 't':  c = '\t'; break;
            case '\\': c = '\\'; break;
            case 'x':
              if (hex_value (p[1]) < 0 || hex_value (p[2]) < 0)
                g_error ("dispatch-test-server: script line %u: \\x needs two hex digits", line_no);
              c = (guint8) (hex_value (p[1]) * 16 + hex_value (p[2]));
              p += 2;
              break;
            default:
              g_error ("dispatch-test-server: script line %u: unknown escape in send-raw", line_no);
            }
        }
      g_byte_array_append (out, &c, 1);
    }

  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static guint64
parse_count (const char *arg,
             guint       line_no)
{
  g_autofree char *word = arg != NULL ? g_strndup (arg, strcspn (arg, " ")) : NULL;
  guint64 value;

  if (word == NULL || !g_ascii_string_to_unsigned (word, 10, 0, G_MAXUINT32, &value, NULL))
    g_error ("dispatch-test-server: script line %u: expected a number", line_no);

  return value;
}

static Step *
parse_step (const char *line,
            guint       line_no)
{
  g_autofree char *keyword = NULL;
  const char *space = strchr (line, ' ');
  const char *arg = space != NULL ? space + 1 : NULL;
  Step *step = g_new0 (Step, 1);
  gboolean takes_arg = FALSE;

  keyword = space != NULL ? g_strndup (line, space - line) : g_strdup (line);
  step->text = g_strdup (line);

  if (g_str_equal (keyword, "send"))
    {
      step->kind = STEP_SEND;
      step->bytes = g_bytes_new_take (g_strconcat (arg != NULL ? arg : "", "\r\n", NULL),
                                      strlen (arg != NULL ? arg : "") + 2);
      takes_arg = TRUE;
    }
  else if (g_str_equal (keyword, "send-raw"))
    {
      step->kind = STEP_SEND_RAW;
      step->bytes = unescape_raw (arg != NULL ? arg : "", line_no);
      takes_arg = TRUE;
    }
  else if (g_str_equal (keyword, "expect") || g_str_equal (keyword, "expect!"))
    {
      step->kind = keyword[6] == '!' ? STEP_EXPECT_PIPELINED : STEP_EXPECT;
      step->pattern = g_strdup (arg != NULL ? arg : "");
      takes_arg = TRUE;
    }
  else if (g_str_equal (keyword, "data-partial"))
    {
      step->kind = STEP_DATA_PARTIAL;
      step->count = parse_count (arg, line_no);
      takes_arg = TRUE;
    }
  else if (g_str_equal (keyword, "sleep"))
    {
      step->kind = STEP_SLEEP;
      step->count = parse_count (arg, line_no);
      takes_arg = TRUE;
    }
  else if (g_str_equal (keyword, "drip"))
    {
      const char *text = arg != NULL ? arg + strcspn (arg, " ") : "";

      step->kind = STEP_DRIP;
      step->count = parse_count (arg, line_no);
      if (*text == ' ')
        text++;
      step->bytes = g_bytes_new_take (g_strconcat (text, "\r\n", NULL), strlen (text) + 2);
      takes_arg = TRUE;
    }
  else if (g_str_equal (keyword, "reconnect"))
    step->kind = STEP_RECONNECT;
  else if (g_str_equal (keyword, "tls"))
    step->kind = STEP_TLS;
  else if (g_str_equal (keyword, "data"))
    step->kind = STEP_DATA;
  else if (g_str_equal (keyword, "bdat"))
    step->kind = STEP_BDAT;
  else if (g_str_equal (keyword, "close"))
    step->kind = STEP_CLOSE;
  else if (g_str_equal (keyword, "stall"))
    step->kind = STEP_STALL;
  else if (g_str_equal (keyword, "endless"))
    step->kind = STEP_ENDLESS;
  else
    g_error ("dispatch-test-server: script line %u: unknown step \"%s\"", line_no, keyword);

  if (!takes_arg && arg != NULL)
    g_error ("dispatch-test-server: script line %u: \"%s\" takes no argument", line_no, keyword);

  return step;
}

DispatchTestServer *
dispatch_test_server_new (const char *script)
{
  DispatchTestServer *self;
  g_auto(GStrv) lines = NULL;

  g_return_val_if_fail (script != NULL, NULL);

  self = g_new0 (DispatchTestServer, 1);
  self->steps = g_ptr_array_new_with_free_func (step_free);
  self->cancellable = g_cancellable_new ();
  g_mutex_init (&self->lock);
  self->buffer = g_byte_array_new ();
  self->received = g_byte_array_new ();
  self->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  lines = g_strsplit (script, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strchug (lines[i]);
      gsize len = strlen (line);

      /* Scripts written in a file with CRLF line ends mean the same as in a C literal. */
      if (len > 0 && line[len - 1] == '\r')
        line[len - 1] = '\0';

      if (line[0] == '\0' || line[0] == '#')
        continue;

      g_ptr_array_add (self->steps, parse_step (line, i + 1));
      if (((Step *) g_ptr_array_index (self->steps, self->steps->len - 1))->kind == STEP_RECONNECT)
        self->n_reconnects++;
    }

  return self;
}

void
dispatch_test_server_set_certificate (DispatchTestServer *self,
                                      const char         *cert_file,
                                      const char         *key_file)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (self->thread == NULL);
  g_return_if_fail (cert_file != NULL && key_file != NULL);

  g_free (self->cert_file);
  self->cert_file = g_strdup (cert_file);
  g_free (self->key_file);
  self->key_file = g_strdup (key_file);
}

/* Receiving */

static gboolean
is_disconnect (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED) ||
         g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_EOF);
}

/* One read that gives up at @deadline (monotonic µs) instead of at the socket timeout. The
 * pollable check comes first because TLS may hold decrypted bytes the socket no longer shows. */
static gssize
read_before (DispatchTestServer *self,
             guint8             *chunk,
             gsize               size,
             gint64              deadline,
             GError            **error)
{
  GPollableInputStream *in = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (self->stream));

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      gint64 remaining;

      if (g_pollable_input_stream_is_readable (in))
        {
          gssize n = g_pollable_input_stream_read_nonblocking (in, chunk, size,
                                                               self->cancellable, &local_error);
          if (n >= 0)
            return n;
          if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return -1;
            }
          g_clear_error (&local_error);
        }

      remaining = deadline - g_get_monotonic_time ();
      if (remaining <= 0)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Timed out");
          return -1;
        }

      /* The wait has millisecond resolution; round up so it never spins. Its own cap at the
       * socket timeout just means another turn of the loop. */
      remaining = (remaining + 999) / 1000 * 1000;
      if (!g_socket_condition_timed_wait (self->socket, G_IO_IN, remaining,
                                          self->cancellable, &local_error) &&
          !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return -1;
        }
    }
}

/* Appends one read's worth to the buffer and the transcript. @deadline -1 means the socket
 * timeout. Returns the bytes read, 0 at end of stream, -1 on error. */
static gssize
receive (DispatchTestServer *self,
         gint64              deadline,
         GError            **error)
{
  guint8 chunk[CHUNK_SIZE];
  gssize n;

  if (deadline < 0)
    n = g_input_stream_read (g_io_stream_get_input_stream (self->stream), chunk, sizeof chunk,
                             self->cancellable, error);
  else
    n = read_before (self, chunk, sizeof chunk, deadline, error);

  if (n > 0)
    {
      g_byte_array_append (self->buffer, chunk, n);
      g_byte_array_append (self->received, chunk, n);
    }

  return n;
}

/* Adds what an incomplete read left in the buffer to @error, the first thing one wants to know
 * when a step times out or the client hangs up. */
static void
note_leftover (DispatchTestServer *self,
               GError            **error)
{
  g_autofree char *leftover = NULL;
  char *message;

  if (error == NULL || *error == NULL || self->buffer->len == 0)
    return;

  leftover = describe (self->buffer->data, self->buffer->len);
  message = g_strdup_printf ("%s (received before that: %s)", (*error)->message, leftover);
  g_free ((*error)->message);
  (*error)->message = message;
}

static gboolean
fill (DispatchTestServer *self,
      GError            **error)
{
  gssize n = receive (self, -1, error);

  if (n == 0)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                         "the client closed the connection");
  if (n <= 0)
    {
      note_leftover (self, error);
      return FALSE;
    }

  return TRUE;
}

/* Makes the buffer hold at least @len bytes. */
static gboolean
buffer_bytes (DispatchTestServer *self,
              gsize               len,
              GError            **error)
{
  while (self->buffer->len < len)
    if (!fill (self, error))
      return FALSE;

  return TRUE;
}

/* Makes the buffer start with a whole line; @out_len gets its length, LF included. */
static gboolean
buffer_line (DispatchTestServer *self,
             gsize               max,
             gsize              *out_len,
             GError            **error)
{
  for (;;)
    {
      const guint8 *lf = NULL;

      if (self->scanned < self->buffer->len)
        lf = memchr (self->buffer->data + self->scanned, '\n', self->buffer->len - self->scanned);
      if (lf != NULL)
        {
          *out_len = lf - self->buffer->data + 1;
          return TRUE;
        }

      self->scanned = self->buffer->len;
      if (self->buffer->len > max)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "no LF in the first %u bytes of a line", self->buffer->len);
          return FALSE;
        }

      if (!fill (self, error))
        return FALSE;
    }
}

static void
consume (DispatchTestServer *self,
         gsize               len)
{
  g_byte_array_remove_range (self->buffer, 0, len);
  self->consumed += len;
  self->scanned = self->scanned > len ? self->scanned - len : 0;
}

/* Reads one CRLF-terminated command line and returns it without the CRLF. NULs are kept, so
 * @out_len can differ from strlen(). @out_end gets the stream offset just after the line. */
static char *
read_command (DispatchTestServer *self,
              gsize              *out_len,
              guint64            *out_end,
              GError            **error)
{
  gsize len;
  char *line;

  if (!buffer_line (self, MAX_COMMAND_LINE, &len, error))
    return NULL;

  if (len < 2 || self->buffer->data[len - 2] != '\r')
    {
      g_autofree char *shown = describe (self->buffer->data, len);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "received %s, which ends in a bare LF instead of CRLF", shown);
      return NULL;
    }

  line = g_malloc (len - 1);
  memcpy (line, self->buffer->data, len - 2);
  line[len - 2] = '\0';
  *out_len = len - 2;
  *out_end = self->consumed + len;
  consume (self, len);

  return line;
}

static guint
count_lines (GByteArray *buffer)
{
  guint lines = 0;

  for (guint i = 0; i < buffer->len; i++)
    if (buffer->data[i] == '\n')
      lines++;

  return lines;
}

/* A pipelining client may still be a few microseconds from having written what "expect!"
 * wants to see, so before a reply goes out, give it time to arrive. A client that waits for
 * the reply cannot send in the meantime, so this never turns a failure into a pass. */
static void
await_pipelined_lines (DispatchTestServer *self,
                       guint               wanted)
{
  gint64 deadline = g_get_monotonic_time () + PIPELINE_GRACE_MS * G_TIME_SPAN_MILLISECOND;

  while (count_lines (self->buffer) < wanted)
    {
      /* Errors and EOF resurface at the next read, where the step can report them. */
      if (receive (self, deadline, NULL) <= 0)
        break;
    }
}

/* How many "expect!" follow the reply step at @index, across the rest of the reply. */
static guint
pipelined_expects_after (DispatchTestServer *self,
                         guint               index)
{
  guint i = index + 1;
  guint wanted = 0;

  while (i < self->steps->len)
    {
      Step *step = g_ptr_array_index (self->steps, i);

      if (step->kind != STEP_SEND && step->kind != STEP_SEND_RAW && step->kind != STEP_SLEEP)
        break;
      i++;
    }
  for (; i < self->steps->len; i++)
    {
      Step *step = g_ptr_array_index (self->steps, i);

      if (step->kind != STEP_EXPECT_PIPELINED)
        break;
      wanted++;
    }

  return wanted;
}

/* Steps */

static gboolean
write_bytes (DispatchTestServer *self,
             const void         *data,
             gsize               len,
             GError            **error)
{
  if (self->write_closed)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                           "the script already closed the connection");
      return FALSE;
    }

  return g_output_stream_write_all (g_io_stream_get_output_stream (self->stream), data, len,
                                    NULL, self->cancellable, error);
}

static gboolean
step_send (DispatchTestServer *self,
           guint               index,
           GBytes             *bytes,
           GError            **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  guint wanted = pipelined_expects_after (self, index);

  if (wanted > 0)
    await_pipelined_lines (self, wanted);

  self->received_at_reply = self->consumed + self->buffer->len;

  return write_bytes (self, data, len, error);
}

static gboolean
step_expect (DispatchTestServer *self,
             Step               *step,
             GError            **error)
{
  g_autofree char *line = NULL;
  g_autofree char *shown = NULL;
  gsize len;
  guint64 end;

  line = read_command (self, &len, &end, error);
  if (line == NULL)
    return FALSE;

  shown = describe ((const guint8 *) line, len);

  /* GPatternSpec walks UTF-8; anything else is a mismatch, never something to match on. */
  if (strlen (line) != len || !g_utf8_validate (line, len, NULL) ||
      !g_pattern_match_simple (step->pattern, line))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "received %s", shown);
      return FALSE;
    }

  if (step->kind == STEP_EXPECT_PIPELINED && end > self->received_at_reply)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "received %s only after the previous reply had gone out (not pipelined)",
                   shown);
      return FALSE;
    }

  return TRUE;
}

/* SMTP DATA body (RFC 5321 §4.5.2):
 *
 *   line CRLF ... "." CRLF      a line starting with "." has one more "." in front of it
 */
static gboolean
step_data (DispatchTestServer *self,
           GError            **error)
{
  g_autoptr(GByteArray) message = g_byte_array_new ();

  for (;;)
    {
      const guint8 *line;
      gsize len;
      gsize skip;

      if (!buffer_line (self, MAX_MESSAGE, &len, error))
        {
          g_prefix_error (error, "after %u bytes of the body: ", message->len);
          return FALSE;
        }

      line = self->buffer->data;
      if (len < 2 || line[len - 2] != '\r')
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "bare LF in the body after %u bytes", message->len);
          return FALSE;
        }

      if (len == 3 && line[0] == '.')
        {
          consume (self, len);
          break;
        }

      skip = line[0] == '.' ? 1 : 0;
      g_byte_array_append (message, line + skip, len - skip);
      consume (self, len);

      if (message->len > MAX_MESSAGE)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                       "the body grew past %d bytes", MAX_MESSAGE);
          return FALSE;
        }
    }

  g_ptr_array_add (self->messages, g_byte_array_free_to_bytes (g_steal_pointer (&message)));

  return TRUE;
}

static gboolean
step_data_partial (DispatchTestServer *self,
                   guint64             count,
                   GError            **error)
{
  if (!buffer_bytes (self, count, error))
    return FALSE;

  consume (self, count);

  return TRUE;
}

/* RFC 3030 chunk:
 *
 *   "BDAT" SP size [ SP "LAST" ] CRLF <size bytes, taken as they are>
 */
static gboolean
step_bdat (DispatchTestServer *self,
           GError            **error)
{
  g_autofree char *line = NULL;
  g_auto(GStrv) words = NULL;
  gsize len;
  guint64 end;
  guint64 size;
  guint n_words;
  gboolean last;

  line = read_command (self, &len, &end, error);
  if (line == NULL)
    return FALSE;

  words = g_strsplit (line, " ", -1);
  n_words = g_strv_length (words);
  last = n_words == 3 && g_ascii_strcasecmp (words[2], "LAST") == 0;

  if (strlen (line) != len ||
      (n_words != 2 && !last) ||
      g_ascii_strcasecmp (words[0], "BDAT") != 0 ||
      !g_ascii_string_to_unsigned (words[1], 10, 0, MAX_MESSAGE, &size, NULL))
    {
      g_autofree char *shown = describe ((const guint8 *) line, len);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "received %s instead of \"BDAT <size>[ LAST]\"", shown);
      return FALSE;
    }

  if (!buffer_bytes (self, size, error))
    {
      g_prefix_error (error, "in a chunk of %" G_GUINT64_FORMAT " bytes: ", size);
      return FALSE;
    }

  if (self->chunked_message == NULL)
    self->chunked_message = g_byte_array_new ();
  if (self->chunked_message->len + size > MAX_MESSAGE)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "the message grew past %d bytes", MAX_MESSAGE);
      return FALSE;
    }
  g_byte_array_append (self->chunked_message, self->buffer->data, size);
  consume (self, size);

  if (last)
    g_ptr_array_add (self->messages,
                     g_byte_array_free_to_bytes (g_steal_pointer (&self->chunked_message)));

  return TRUE;
}

static gboolean
step_tls (DispatchTestServer *self,
          GError            **error)
{
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(GIOStream) tls = NULL;

  certificate = g_tls_certificate_new_from_files (self->cert_file, self->key_file, error);
  if (certificate == NULL)
    {
      g_prefix_error (error, "loading %s: ", self->cert_file);
      return FALSE;
    }

  /* Whatever came in clear and was not read by a step belongs to the plaintext phase; it stays
   * in the transcript, where a test can look for commands injected before the handshake. */
  consume (self, self->buffer->len);

  tls = g_tls_server_connection_new (self->stream, certificate, error);
  if (tls == NULL)
    return FALSE;

  /* Clients may hang up without close_notify; that is an ordinary end here, not an attack. */
  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (tls), FALSE);

  if (!g_tls_connection_handshake (G_TLS_CONNECTION (tls), self->cancellable, error))
    {
      g_prefix_error (error, "TLS handshake failed: ");
      return FALSE;
    }

  g_set_object (&self->stream, tls);

  return TRUE;
}

/* Half-closes, so the client sees EOF (after close_notify under TLS) while anything it still
 * sends can be read. A full close with unread bytes in the kernel would send RST instead, and
 * the client could lose the last reply. */
static gboolean
step_close (DispatchTestServer *self,
            GError            **error)
{
  if (G_IS_TLS_CONNECTION (self->stream))
    g_output_stream_close (g_io_stream_get_output_stream (self->stream), self->cancellable, NULL);

  /* Fails only when the client is gone already, which is what "close" wants anyway. */
  g_socket_shutdown (self->socket, FALSE, TRUE, NULL);
  self->write_closed = TRUE;

  return !g_cancellable_set_error_if_cancelled (self->cancellable, error);
}

/* Reads until the client hangs up or @deadline passes, keeping what arrives for later steps and
 * the transcript. Returns TRUE if the client went away. */
static gboolean
wait_for_hangup (DispatchTestServer *self,
                 gint64              deadline,
                 GError            **error)
{
  if (self->peer_gone)
    return TRUE;

  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      gssize n = receive (self, deadline, &local_error);

      if (n > 0)
        continue;

      if (n == 0 || is_disconnect (local_error))
        {
          self->peer_gone = TRUE;
          return TRUE;
        }
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_propagate_error (error, g_steal_pointer (&local_error));

      return FALSE;
    }
}

static gboolean
step_stall (DispatchTestServer *self,
            GError            **error)
{
  g_autoptr(GError) local_error = NULL;

  /* Running out of patience is how a stall ends; only a failure of the wait itself counts. */
  wait_for_hangup (self, g_get_monotonic_time () + STALL_S * G_TIME_SPAN_SECOND, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  return TRUE;
}

static gboolean
step_sleep (DispatchTestServer *self,
            guint64             ms,
            GError            **error)
{
  GPollFD pollfd;

  /* Polling the cancellable's fd instead of g_usleep() lets _free interrupt the nap. */
  if (g_cancellable_make_pollfd (self->cancellable, &pollfd))
    {
      g_poll (&pollfd, 1, (int) ms);
      g_cancellable_release_fd (self->cancellable);
    }
  else
    g_usleep (ms * 1000);

  return !g_cancellable_set_error_if_cancelled (self->cancellable, error);
}

static gboolean
step_endless (DispatchTestServer *self,
              GError            **error)
{
  static const char start[] = "220 ";
  g_autofree guint8 *chunk = g_malloc (CHUNK_SIZE);
  gsize sent = 0;
  g_autoptr(GError) local_error = NULL;

  memset (chunk, 'A', CHUNK_SIZE);

  if (write_bytes (self, start, strlen (start), &local_error))
    {
      for (sent = strlen (start); sent < ENDLESS_LIMIT; sent += CHUNK_SIZE)
        if (!write_bytes (self, chunk, CHUNK_SIZE, &local_error))
          break;
    }

  if (local_error == NULL)
    return TRUE;

  /* The client giving up on the line is the point of this step. */
  if (is_disconnect (local_error))
    {
      self->peer_gone = TRUE;
      return TRUE;
    }

  g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                              "after %" G_GSIZE_FORMAT " bytes: ", sent);
  return FALSE;
}

static gboolean accept_client (DispatchTestServer *self,
                               GError            **error);

/* As "send", one byte per write with @step->count ms between them. */
static gboolean
step_drip (DispatchTestServer *self,
           guint               index,
           Step               *step,
           GError            **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (step->bytes, &len);
  guint wanted = pipelined_expects_after (self, index);

  if (wanted > 0)
    await_pipelined_lines (self, wanted);
  self->received_at_reply = self->consumed + self->buffer->len;

  for (gsize i = 0; i < len; i++)
    {
      if (i > 0 && !step_sleep (self, step->count, error))
        return FALSE;
      if (!write_bytes (self, data + i, 1, error))
        return FALSE;
    }
  return TRUE;
}

/* Waits for the client to hang up, then serves its next connection. */
static gboolean
step_reconnect (DispatchTestServer *self,
                GError            **error)
{
  if (!wait_for_hangup (self, g_get_monotonic_time () + IO_TIMEOUT_S * G_TIME_SPAN_SECOND, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "the client did not close the connection within %d s", IO_TIMEOUT_S);
      return FALSE;
    }

  g_socket_close (self->socket, NULL);
  g_clear_object (&self->stream);
  g_clear_object (&self->socket);
  g_byte_array_set_size (self->buffer, 0);
  self->scanned = 0;
  self->consumed = 0;
  self->received_at_reply = 0;
  self->write_closed = FALSE;
  self->peer_gone = FALSE;
  g_clear_pointer (&self->chunked_message, g_byte_array_unref);

  return accept_client (self, error);
}

static gboolean
run_step (DispatchTestServer *self,
          guint               index,
          GError            **error)
{
  Step *step = g_ptr_array_index (self->steps, index);

  switch (step->kind)
    {
    case STEP_SEND:
    case STEP_SEND_RAW:
      return step_send (self, index, step->bytes, error);
    case STEP_EXPECT:
    case STEP_EXPECT_PIPELINED:
      return step_expect (self, step, error);
    case STEP_TLS:
      return step_tls (self, error);
    case STEP_DATA:
      return step_data (self, error);
    case STEP_DATA_PARTIAL:
      return step_data_partial (self, step->count, error);
    case STEP_BDAT:
      return step_bdat (self, error);
    case STEP_CLOSE:
      return step_close (self, error);
    case STEP_STALL:
      return step_stall (self, error);
    case STEP_SLEEP:
      return step_sleep (self, step->count, error);
    case STEP_ENDLESS:
      return step_endless (self, error);
    case STEP_DRIP:
      return step_drip (self, index, step, error);
    case STEP_RECONNECT:
      return step_reconnect (self, error);
    default:
      g_assert_not_reached ();
    }
}

/* The thread */

static gboolean
accept_client (DispatchTestServer *self,
               GError            **error)
{
  self->socket = g_socket_accept (self->listener, self->cancellable, error);

  /* One connection per "reconnect" step and one more: a client that reconnects unasked should
   * be refused, not served. */
  if (self->n_reconnects-- == 0)
    g_socket_close (self->listener, NULL);

  if (self->socket == NULL)
    return FALSE;

  g_socket_set_timeout (self->socket, IO_TIMEOUT_S);
  self->stream = G_IO_STREAM (g_socket_connection_factory_create_connection (self->socket));

  return TRUE;
}

static gpointer
server_thread (gpointer data)
{
  DispatchTestServer *self = data;
  g_autoptr(GError) error = NULL;

  if (!accept_client (self, &error))
    g_prefix_error (&error, "waiting for the client to connect: ");

  for (guint i = 0; error == NULL && i < self->steps->len; i++)
    {
      if (!run_step (self, i, &error))
        {
          Step *step = g_ptr_array_index (self->steps, i);

          g_prefix_error (&error, "step %u \"%s\": ", i + 1, step->text);
        }
    }

  if (error == NULL &&
      !wait_for_hangup (self, g_get_monotonic_time () + IO_TIMEOUT_S * G_TIME_SPAN_SECOND, &error))
    {
      if (error == NULL)
        g_set_error (&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "the client did not close the connection within %d s", IO_TIMEOUT_S);
      g_prefix_error (&error, "after the last step: ");
      note_leftover (self, &error);
    }

  /* Closing the socket itself first means disposing a TLS stream later cannot block on a
   * close_notify nobody reads. */
  if (self->socket != NULL)
    g_socket_close (self->socket, NULL);
  g_clear_object (&self->stream);

  g_mutex_lock (&self->lock);
  self->error = g_steal_pointer (&error);
  self->done = TRUE;
  if (self->finish_context != NULL)
    g_main_context_wakeup (self->finish_context);
  g_mutex_unlock (&self->lock);

  return NULL;
}

guint16
dispatch_test_server_start (DispatchTestServer *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketAddress) bound = NULL;

  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (self->thread == NULL, 0);

  if (self->cert_file == NULL)
    {
      self->cert_file = dispatch_test_file ("server.pem");
      self->key_file = dispatch_test_file ("server-key.pem");
    }

  self->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, &error);
  if (self->listener == NULL)
    g_error ("dispatch-test-server: %s", error->message);

  address = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  if (!g_socket_bind (self->listener, address, TRUE, &error) ||
      !g_socket_listen (self->listener, &error))
    g_error ("dispatch-test-server: listening on 127.0.0.1: %s", error->message);

  bound = g_socket_get_local_address (self->listener, &error);
  if (bound == NULL)
    g_error ("dispatch-test-server: %s", error->message);

  g_socket_set_timeout (self->listener, ACCEPT_TIMEOUT_S);

  self->thread = g_thread_new ("dispatch-test-server", server_thread, self);

  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* The caller's main context keeps running meanwhile: the client under test may need it to
 * finish writing or to close the connection, which is what the script is waiting for. */
gboolean
dispatch_test_server_finish (DispatchTestServer  *self,
                             GError             **error)
{
  g_autoptr(GMainContext) context = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (self->thread != NULL || self->joined, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!self->joined)
    {
      context = g_main_context_ref_thread_default ();

      g_mutex_lock (&self->lock);
      self->finish_context = context;
      g_mutex_unlock (&self->lock);

      for (;;)
        {
          gboolean done;

          g_mutex_lock (&self->lock);
          done = self->done;
          g_mutex_unlock (&self->lock);

          if (done)
            break;
          g_main_context_iteration (context, TRUE);
        }

      g_mutex_lock (&self->lock);
      self->finish_context = NULL;
      g_mutex_unlock (&self->lock);

      g_thread_join (g_steal_pointer (&self->thread));
      self->joined = TRUE;
    }

  if (self->error != NULL)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return FALSE;
    }

  return TRUE;
}

guint
dispatch_test_server_get_n_messages (DispatchTestServer *self)
{
  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (self->joined, 0);

  return self->messages->len;
}

GBytes *
dispatch_test_server_get_message (DispatchTestServer *self,
                                  guint               index)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (self->joined, NULL);
  g_return_val_if_fail (index < self->messages->len, NULL);

  return g_bytes_ref (g_ptr_array_index (self->messages, index));
}

GBytes *
dispatch_test_server_get_received (DispatchTestServer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (self->joined, NULL);

  return g_bytes_new (self->received->data, self->received->len);
}

void
dispatch_test_server_free (DispatchTestServer *self)
{
  if (self == NULL)
    return;

  /* A test that bails out early must not wait for the script's timeouts. */
  if (self->thread != NULL)
    {
      g_cancellable_cancel (self->cancellable);
      g_thread_join (g_steal_pointer (&self->thread));
    }

  g_clear_object (&self->stream);
  g_clear_object (&self->socket);
  g_clear_object (&self->listener);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->steps, g_ptr_array_unref);
  g_clear_pointer (&self->buffer, g_byte_array_unref);
  g_clear_pointer (&self->received, g_byte_array_unref);
  g_clear_pointer (&self->chunked_message, g_byte_array_unref);
  g_clear_pointer (&self->messages, g_ptr_array_unref);
  g_clear_error (&self->error);
  g_free (self->cert_file);
  g_free (self->key_file);
  g_mutex_clear (&self->lock);
  g_free (self);
}

char *
dispatch_test_file (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "files", name, NULL);
}
