// The rendering port: senders name a message and hand over recipient data; how templates are
// stored and compiled (MJML, Handlebars, caching) stays behind this class.

export type Locale = 'de' | 'en';

export const LOCALES: readonly Locale[] = ['de', 'en'];

/** One mail ready for the transport: both parts are always non-empty. */
export interface RenderedMail {
  subject: string;
  html: string;
  text: string;
}

export interface CampaignBodyError {
  /** 1-based line in the body the marketer sent. */
  line: number;
  message: string;
}

export type CampaignBodyValidation = { ok: true } | { ok: false; errors: CampaignBodyError[] };

/** Data the layout (header and footer) reads in every message. */
export type LayoutData = {
  // The company's name, address, logo, imprint and privacy links come from the renderer's brand
  // (@brand in the templates), not from each caller.
  preferencesUrl?: string | null;
  unsubscribeUrl?: string | null;
  /** The Reply-To address, shown in the marketing footer: replies are welcome. */
  replyAddress?: string | null;
  /** Informational only: the `locale` argument of `render` decides the language. */
  locale?: Locale;
};

/** Double opt-in: a service mail, so it carries no advertising and no unsubscribe link. */
export type ConfirmSubscriptionData = LayoutData & {
  firstName?: string | null;
  confirmUrl: string;
  topicNames: string[];
};

/** The single reminder for a sign-up that was not confirmed. */
export type ConfirmReminderData = ConfirmSubscriptionData;

/** A marketing mail: the footer needs both links, so they are required here. */
export type CampaignData = LayoutData & {
  subject: string;
  /** The campaign body: HTML checked against the allow-list when stored, and cleaned by it again when rendered. */
  bodyHtml: string;
  preferencesUrl: string;
  unsubscribeUrl: string;
  topicName: string;
  /** "Useful / not useful" links for this customer and campaign; absent in test sends. */
  feedback?: FeedbackLinks | null;
};

/** Links to the feedback page with the answer preselected (the GET records nothing). */
export type FeedbackLinks = { usefulUrl: string; notUsefulUrl: string };

/** A digest: sections per topic, each with its entries (digest items and folded campaigns). */
export type DigestData = LayoutData & {
  preferencesUrl: string;
  unsubscribeUrl: string;
  /** Every two weeks (true) or weekly: each template words it in its own grammar. */
  biweekly: boolean;
  entryCount: number;
  singleEntry: boolean;
  firstTitle: string;
  moreCount: number;
  sections: { topicName: string; entries: { title: string; summary: string; url: string | null; feedback?: FeedbackLinks | null }[] }[];
  /** "Drop this topic?" after two "not useful" in a row on it: a link to a one-click POST page. */
  dropQuestions?: { topicName: string; url: string }[];
};

/** One line of an order or a parcel, as the customer reads it. */
export type MailItem = { name: string; quantity: number };

/** Order confirmation: a transactional mail, so the service layout (no advertising, no unsubscribe). */
export type OrderConfirmationData = LayoutData & {
  orderNumber: string;
  /** The order date, already written out in the mail's language. */
  placedOn: string;
  items: MailItem[];
};

/** The shipment mails (shipped with tracking link, out for delivery, delivery problem). */
export type ShipmentMailData = LayoutData & {
  orderNumber: string;
  carrierName: string;
  trackingNumber: string;
  trackingUrl: string;
  /** What is in this parcel. */
  items: MailItem[];
  /** Partial delivery: the rest of the order, each either in another parcel already or following later. */
  stillComing: (MailItem & { separately: boolean })[];
  /** Delivery problem mail only: the carrier is sending the parcel back to the shop. */
  returned?: boolean;
};

/**
 * The service mails of a webinar registration (confirmation, update, cancellation, reminder). `when`
 * is already written out in the customer's language and time zone.
 */
export type WebinarMailData = LayoutData & {
  firstName: string | null;
  title: string;
  when: string;
  /** "Part 2 of the series …", or null. */
  seriesLabel: string | null;
  joinUrl: string;
  /** Self-service unregister link (signed). */
  unregisterUrl: string;
  /** The public registration page, offered after unregistering. */
  registerUrl: string;
  /** Cancellation only: the customer unregistered (true) or the webinar was cancelled (false). */
  byCustomer: boolean;
};

/** Double opt-in of a webinar registration from the public form: one button, no calendar file yet. */
export type WebinarRegistrationConfirmData = LayoutData & {
  firstName: string | null;
  title: string;
  when: string;
  seriesLabel: string | null;
  /** The series' title when the form asked for every later part too, else null. */
  seriesTitle: string | null;
  /** The signed confirmation link: opens a page whose button registers (GET changes nothing). */
  confirmUrl: string;
};

/** Typed data per message, for callers that want the compiler to check what they pass. */
export type MessageDataMap = {
  'confirm-subscription': ConfirmSubscriptionData;
  'confirm-reminder': ConfirmReminderData;
  campaign: CampaignData;
  digest: DigestData;
  'order-confirmation': OrderConfirmationData;
  'shipment-shipped': ShipmentMailData;
  'shipment-out-for-delivery': ShipmentMailData;
  'shipment-problem': ShipmentMailData;
  'webinar-registration': WebinarMailData;
  'webinar-update': WebinarMailData;
  'webinar-cancellation': WebinarMailData;
  'webinar-reminder': WebinarMailData;
  'webinar-registration-confirm': WebinarRegistrationConfirmData;
};

export type MessageName = keyof MessageDataMap;

export abstract class TemplateRenderer {
  /** Renders one message for one recipient. Throws a TemplateRenderError when required data is missing. */
  abstract render(message: string, locale: Locale, data: Record<string, unknown>): Promise<RenderedMail>;

  /** Short hash of every template file the message depends on; changes whenever one of them does. */
  abstract templateVersion(message: string): string;

  /** Checks a marketer's campaign body (MJML document or HTML snippet) before it is stored. */
  abstract validateCampaignBody(mjmlOrHtml: string): Promise<CampaignBodyValidation>;
}

export class TemplateRenderError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TemplateRenderError';
  }
}
