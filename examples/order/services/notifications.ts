// Demo notifications service: "sends" emails by queueing them in memory.
import { asObject, createDemoService, type DemoService, invalidBody, isNonEmptyString } from "./service.js";

export interface Email {
  id: string;
  to: string;
  subject?: string;
  body?: string;
  status: "queued";
}

export interface NotificationsService extends DemoService {
  emails: Map<string, Email>;
}

export function createNotificationsService(): NotificationsService {
  const emails = new Map<string, Email>();
  let seq = 0;

  const service = createDemoService("notifications", [
    {
      method: "POST",
      url: "/emails",
      mutates: true,
      handler: ({ body }) => {
        const input = asObject(body);
        if (!input || !isNonEmptyString(input.to)) {
          return invalidBody("to (non-empty string) is required");
        }
        for (const field of ["subject", "body"] as const) {
          if (input[field] !== undefined && typeof input[field] !== "string") {
            return invalidBody(`${field} must be a string when present`);
          }
        }
        const email: Email = {
          id: `em_${++seq}`,
          to: input.to,
          subject: input.subject as string | undefined,
          body: input.body as string | undefined,
          status: "queued",
        };
        emails.set(email.id, email);
        // 202: the email is accepted for delivery, not delivered yet.
        return { status: 202, body: { id: email.id, to: email.to, status: email.status } };
      },
    },
  ]);

  return Object.assign(service, { emails });
}
