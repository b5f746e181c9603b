import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import {
  Assignment,
  AssignmentList,
  CreateAssignmentBody,
  IdParams,
  Lab,
  ProvisionResult,
  Scoreboard,
  UpdateAssignmentBody,
} from '@ctp/contracts';
import { actorOf } from '../plugins/authentication.js';
import type { AssignmentService } from '../services/assignment.service.js';
import { bearer, errorResponses } from './route-helpers.js';

/** Assignments: give a class a lab for a window, start it, provision the class, grades and scoreboard. */
export const assignmentsRoutes: FastifyPluginAsyncTypebox<{ assignments: AssignmentService }> = async (app, { assignments }) => {
  const tags = ['assignments'];

  app.post(
    '/classes/:id/assignments',
    {
      config: { audit: 'assignment.create' },
      schema: {
        tags,
        summary: 'Give the class a lab template to work through between opensAt and closesAt',
        security: bearer,
        params: IdParams,
        body: CreateAssignmentBody,
        response: { 201: Assignment, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const created = await assignments.create(actorOf(request), request.params.id, request.body);
      request.auditTarget = { type: 'assignment', id: created.id, details: { classId: created.classId, templateId: created.templateId } };
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/classes/:id/assignments',
    {
      schema: {
        tags,
        summary: 'A class’s assignments (an enrolled student sees their own lab in each)',
        security: bearer,
        params: IdParams,
        response: { 200: AssignmentList, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => assignments.listOfClass(actorOf(request), request.params.id),
  );

  app.get(
    '/assignments',
    {
      schema: {
        tags,
        summary: 'Your assignments: a student’s, with their lab; an instructor’s classes’ ones',
        security: bearer,
        response: { 200: AssignmentList, ...errorResponses(401) },
      },
    },
    async (request) => assignments.listMine(actorOf(request)),
  );

  app.get(
    '/assignments/:id',
    {
      schema: {
        tags,
        summary: 'One assignment',
        security: bearer,
        params: IdParams,
        response: { 200: Assignment, ...errorResponses(400, 401, 404) },
      },
    },
    async (request) => assignments.get(actorOf(request), request.params.id),
  );

  app.patch(
    '/assignments/:id',
    {
      config: { audit: 'assignment.update' },
      schema: {
        tags,
        summary: 'Change the window, lab lifetime or scoreboard (an earlier close ends the labs earlier)',
        security: bearer,
        params: IdParams,
        body: UpdateAssignmentBody,
        response: { 200: Assignment, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      request.auditTarget = { type: 'assignment', id: request.params.id, details: { changes: request.body } };
      return assignments.update(actorOf(request), request.params.id, request.body);
    },
  );

  app.post(
    '/assignments/:id/lab',
    {
      config: { audit: 'assignment.start_lab' },
      schema: {
        tags,
        summary: 'Start your lab of the assignment (enrolled students, while it is open; one each): 202, provisioning runs as a job',
        security: bearer,
        params: IdParams,
        response: { 202: Lab, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      const lab = await assignments.startLab(actorOf(request), request.params.id);
      request.auditTarget = { type: 'assignment', id: request.params.id, details: { labId: lab.id } };
      return reply.status(202).send(lab);
    },
  );

  app.post(
    '/assignments/:id/provision',
    {
      config: { audit: 'assignment.provision' },
      schema: {
        tags,
        summary: 'Start a lab for every enrolled student who has none (202: each is a provisioning job)',
        security: bearer,
        params: IdParams,
        response: { 202: ProvisionResult, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const result = await assignments.provision(actorOf(request), request.params.id);
      request.auditTarget = {
        type: 'assignment',
        id: request.params.id,
        details: { created: result.created.map((c) => c.username), skipped: result.skipped.length },
      };
      return reply.status(202).send(result);
    },
  );

  app.get(
    '/assignments/:id/grades.csv',
    {
      schema: {
        tags,
        summary: 'Grade sheet: username, email, name, points per task, total, started, finished, time spent',
        security: bearer,
        params: IdParams,
        produces: ['text/csv'],
        response: {
          200: { description: 'CSV', content: { 'text/csv': { schema: Type.String() } } },
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request, reply) => {
      const { filename, csv } = await assignments.gradesCsv(actorOf(request), request.params.id);
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}"`).send(csv);
    },
  );

  app.get(
    '/assignments/:id/scoreboard',
    {
      schema: {
        tags,
        summary: 'Everyone’s score (students see it only when the instructor turned it on)',
        security: bearer,
        params: IdParams,
        response: { 200: Scoreboard, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => assignments.scoreboard(actorOf(request), request.params.id),
  );
};
