// A topic row as the statements return it (topics.queries.ts): plain data, no ORM mapping.
export interface Topic {
  id: string;
  key: string;
  nameDe: string;
  nameEn: string;
  descriptionDe: string;
  descriptionEn: string;
  audienceHint: string;
  archived: boolean;
  createdAt: Date;
  updatedAt: Date;
}
