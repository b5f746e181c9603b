import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import {
  ClassDetail,
  ClassList,
  ClassUsernameBody,
  ClassUserParams,
  CreateClassBody,
  EnrolResult,
  EnrolStudentsBody,
  IdParams,
  ListClassesQuery,
  UpdateClassBody,
} from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { ClassService } from '../services/class.service.js';
import { bearer, errorResponses } from './route-helpers.js';

const CSV_TYPES = ['text/csv', 'application/csv'];

/** Classes: create, list, co-teachers, enrolment (JSON usernames or a roster CSV), archive. */
export const classesRoutes: FastifyPluginAsyncTypebox<{ classes: ClassService }> = async (app, { classes }) => {
  const tags = ['classes'];
  // A roster upload arrives as text; the route tells it from a JSON body by its type.
  app.addContentTypeParser(CSV_TYPES, { parseAs: 'string' }, (_request, body, done) => done(null, { csv: body }));

  app.post(
    '/classes',
    {
      config: { audit: 'class.create' },
      schema: {
        tags,
        summary: 'Create a class (instructors and admins); its creator teaches it',
        security: bearer,
        body: CreateClassBody,
        response: { 201: ClassDetail, ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const created = await classes.create(actorOf(request), request.body);
      request.auditTarget = { type: 'class', id: created.id, details: { name: created.name } };
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/classes',
    {
      schema: {
        tags,
        summary: 'Classes: admins all, instructors those they teach, students those they are enrolled in',
        security: bearer,
        querystring: ListClassesQuery,
        response: { 200: ClassList, ...errorResponses(400, 401) },
      },
    },
    async (request) => classes.list(actorOf(request), request.query),
  );

  app.get(
    '/classes/:id',
    {
      schema: {
        tags,
        summary: 'A class with its instructors and students (an enrolled student sees only its name and instructors)',
        security: bearer,
        params: IdParams,
        response: { 200: ClassDetail, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => classes.get(actorOf(request), request.params.id),
  );

  app.patch(
    '/classes/:id',
    {
      config: { audit: 'class.update' },
      schema: {
        tags,
        summary: 'Rename, describe, archive or unarchive a class',
        security: bearer,
        params: IdParams,
        body: UpdateClassBody,
        response: { 200: ClassDetail, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      request.auditTarget = { type: 'class', id: request.params.id, details: { changes: request.body } };
      return classes.update(actorOf(request), request.params.id, request.body);
    },
  );

  app.post(
    '/classes/:id/instructors',
    {
      config: { audit: 'class.add_instructor' },
      schema: {
        tags,
        summary: 'Add a co-teacher (an instructor or admin) by username',
        security: bearer,
        params: IdParams,
        body: ClassUsernameBody,
        response: { 200: ClassDetail, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      request.auditTarget = { type: 'class', id: request.params.id, details: { username: request.body.username } };
      return classes.addInstructor(actorOf(request), request.params.id, request.body.username);
    },
  );

  app.delete(
    '/classes/:id/instructors/:username',
    {
      config: { audit: 'class.remove_instructor' },
      schema: {
        tags,
        summary: 'Remove a co-teacher (never the last one)',
        security: bearer,
        params: ClassUserParams,
        response: { 200: ClassDetail, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      request.auditTarget = { type: 'class', id: request.params.id, details: { username: request.params.username } };
      return classes.removeInstructor(actorOf(request), request.params.id, request.params.username);
    },
  );

  app.post(
    '/classes/:id/students',
    {
      config: { audit: 'class.enrol' },
      schema: {
        tags,
        summary: 'Enrol students: JSON `{usernames}` of existing accounts, or a roster file (Content-Type: text/csv)',
        description:
          'A roster has a header `username,email` and optionally `name,password`. Missing accounts are created as students; ' +
          'those without a password in the file get a generated one, returned once in `credentials`. ' +
          'Problems are listed per line (`error.details[].line`), and a file with any problem imports nothing.',
        security: bearer,
        params: IdParams,
        body: Type.Union([EnrolStudentsBody, Type.Object({ csv: Type.String({ maxLength: 1_000_000 }) }, { additionalProperties: false })]),
        response: { 200: EnrolResult, ...errorResponses(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      const body = request.body;
      const result =
        'csv' in body
          ? await classes.enrolRoster(actor, request.params.id, body.csv)
          : await classes.enrolUsernames(actor, request.params.id, body.usernames);
      // Who was enrolled and created, never the passwords.
      request.auditTarget = {
        type: 'class',
        id: request.params.id,
        details: {
          source: 'csv' in body ? 'csv' : 'usernames',
          enrolled: result.enrolled.map((e) => e.username),
          created: result.enrolled.filter((e) => e.created).map((e) => e.username),
        },
      };
      return result;
    },
  );

  app.delete(
    '/classes/:id/students/:username',
    {
      config: { audit: 'class.remove_student' },
      schema: {
        tags,
        summary: 'Remove a student from a class (their account and labs stay)',
        security: bearer,
        params: ClassUserParams,
        response: { 200: ClassDetail, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      request.auditTarget = { type: 'class', id: request.params.id, details: { username: request.params.username } };
      return classes.removeStudent(actorOf(request), request.params.id, request.params.username);
    },
  );
};
