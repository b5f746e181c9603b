import { createApi } from '@reduxjs/toolkit/query/react';
import type {
  Assignment,
  AssignmentList,
  ClassDetail,
  ClassList,
  CreateAssignmentBody,
  EnrolResult,
  ProvisionResult,
  Scoreboard,
  UpdateAssignmentBody,
  AnswerResult,
  CheckResult,
  CtfdImportResult,
  HintResult,
  LabSecrets,
  LabTasks,
  SolutionResult,
  TaskActivity,
  AuditList,
  ConsoleTicket,
  EventTicket,
  Image,
  ImageList,
  CreateUserBody,
  Lab,
  LabDetail,
  LabList,
  MyQuota,
  Quota,
  QuotaList,
  QuotaScope,
  SetQuotaBody,
  PlatformStats,
  SignInMethods,
  Snapshot,
  SystemInfo,
  Template,
  TemplateList,
  TemplateVerification,
  HelpRequest,
  HelpRequestList,
  AnnouncementList,
  AssignmentProgress,
  AdmissionStatus,
  Host,
  HostList,
  TokenResponse,
  UpdateUserBody,
  User,
  UserList,
} from '@ctp/contracts';
import { baseQuery } from './base-query.js';

type Query = Record<string, string | number | boolean | undefined>;
const clean = (query: Query) => Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined && v !== ''));

/** The whole REST API as RTK Query endpoints; live events invalidate the tags below. */
export const api = createApi({
  reducerPath: 'api',
  baseQuery,
  tagTypes: [
    'Lab',
    'LabList',
    'Template',
    'User',
    'Audit',
    'System',
    'Snapshot',
    'Tasks',
    'Verification',
    'Help',
    'Announcements',
    'Progress',
    'Image',
    'Class',
    'Assignment',
    'Host',
    'Quota',
  ],
  endpoints: (build) => ({
    login: build.mutation<TokenResponse, { username: string; password: string }>({
      query: (body) => ({ url: '/auth/login', method: 'POST', body }),
    }),
    logout: build.mutation<void, void>({ query: () => ({ url: '/auth/logout', method: 'POST' }) }),
    signInMethods: build.query<SignInMethods, void>({ query: () => '/auth/methods' }),

    templates: build.query<TemplateList, Query | void>({
      query: (q) => ({ url: '/templates', params: clean(q ?? {}) }),
      providesTags: ['Template'],
    }),
    template: build.query<Template, string>({
      query: (id) => `/templates/${id}`,
      providesTags: (_r, _e, id) => [{ type: 'Template', id }],
    }),
    createTemplate: build.mutation<Template, string>({
      query: (yaml) => ({ url: '/templates', method: 'POST', body: yaml, headers: { 'content-type': 'application/yaml' } }),
      invalidatesTags: ['Template'],
    }),
    updateTemplate: build.mutation<Template, { id: string; yaml: string }>({
      query: ({ id, yaml }) => ({ url: `/templates/${id}`, method: 'PUT', body: yaml, headers: { 'content-type': 'application/yaml' } }),
      invalidatesTags: ['Template'],
    }),
    setTemplateStatus: build.mutation<Template, { id: string; action: 'publish' | 'archive' }>({
      query: ({ id, action }) => ({ url: `/templates/${id}/${action}`, method: 'POST' }),
      invalidatesTags: ['Template'],
    }),
    exportTemplate: build.query<string, string>({
      query: (id) => ({ url: `/templates/${id}/export`, responseHandler: 'text' }),
      providesTags: (_r, _e, id) => [{ type: 'Template', id }],
    }),

    templateVerification: build.query<TemplateVerification, string>({
      query: (id) => `/templates/${id}/verification`,
      providesTags: (_r, _e, id) => [{ type: 'Verification', id }],
    }),
    verifyTemplate: build.mutation<TemplateVerification, string>({
      query: (id) => ({ url: `/templates/${id}/verify`, method: 'POST' }),
      invalidatesTags: (_r, _e, id) => [{ type: 'Verification', id }],
    }),

    assignmentProgress: build.query<AssignmentProgress, string>({
      query: (id) => `/assignments/${id}/progress`,
      providesTags: ['Progress'],
    }),
    announcements: build.query<AnnouncementList, void>({
      query: () => '/announcements',
      providesTags: ['Announcements'],
    }),
    labHelp: build.query<HelpRequestList, string>({
      query: (labId) => `/labs/${labId}/help`,
      providesTags: (_r, _e, labId) => [{ type: 'Help', id: labId }],
    }),
    askHelp: build.mutation<HelpRequest, { labId: string; message: string }>({
      query: ({ labId, message }) => ({ url: `/labs/${labId}/help`, method: 'POST', body: { message } }),
      invalidatesTags: (_r, _e, { labId }) => [{ type: 'Help', id: labId }, 'Help'],
    }),
    helpQueue: build.query<HelpRequestList, 'waiting' | 'all'>({
      query: (status) => ({ url: '/help-requests', params: { status } }),
      providesTags: ['Help'],
    }),
    helpAction: build.mutation<HelpRequest, { id: string; action: 'take' | 'resolve' }>({
      query: ({ id, action }) => ({ url: `/help-requests/${id}/${action}`, method: 'POST' }),
      invalidatesTags: ['Help'],
    }),

    labs: build.query<LabList, Query | void>({
      query: (q) => ({ url: '/labs', params: clean(q ?? {}) }),
      providesTags: ['LabList'],
    }),
    // Use changes with the user's labs: the same tag refreshes both.
    myQuota: build.query<MyQuota, void>({ query: () => '/me/quota', providesTags: ['LabList'] }),
    lab: build.query<LabDetail, string>({ query: (id) => `/labs/${id}`, providesTags: (_r, _e, id) => [{ type: 'Lab', id }] }),
    startLab: build.mutation<Lab, string>({
      query: (templateId) => ({ url: '/labs', method: 'POST', body: { templateId } }),
      invalidatesTags: ['LabList', 'System'],
    }),
    labAction: build.mutation<Lab, { id: string; action: 'start' | 'stop' | 'reset' | 'delete' }>({
      query: ({ id, action }) =>
        action === 'delete' ? { url: `/labs/${id}`, method: 'DELETE' } : { url: `/labs/${id}/${action}`, method: 'POST' },
      invalidatesTags: (_r, _e, { id }) => [{ type: 'Lab', id }, 'LabList'],
    }),
    extendLab: build.mutation<Lab, { id: string; minutes: number }>({
      query: ({ id, minutes }) => ({ url: `/labs/${id}/extend`, method: 'POST', body: { minutes } }),
      invalidatesTags: (_r, _e, { id }) => [{ type: 'Lab', id }, 'LabList'],
    }),
    vmAction: build.mutation<void, { labId: string; vmId: string; action: 'start' | 'stop' | 'reboot' }>({
      query: ({ vmId, action }) => ({ url: `/vms/${vmId}/${action}`, method: 'POST' }),
      invalidatesTags: (_r, _e, { labId }) => [{ type: 'Lab', id: labId }],
    }),
    snapshots: build.query<Snapshot[], string>({
      query: (vmId) => `/vms/${vmId}/snapshots`,
      providesTags: (_r, _e, vmId) => [{ type: 'Snapshot', id: vmId }],
    }),
    revertVm: build.mutation<void, { labId: string; vmId: string; snapshot: string }>({
      query: ({ vmId, snapshot }) => ({ url: `/vms/${vmId}/snapshots/${snapshot}/revert`, method: 'POST' }),
      invalidatesTags: (_r, _e, { labId, vmId }) => [
        { type: 'Lab', id: labId },
        { type: 'Snapshot', id: vmId },
      ],
    }),

    labTasks: build.query<LabTasks, string>({
      query: (labId) => `/labs/${labId}/tasks`,
      providesTags: (_r, _e, labId) => [{ type: 'Tasks', id: labId }],
    }),
    submitAnswer: build.mutation<AnswerResult, { labId: string; taskId: string; answer: string | string[] }>({
      query: ({ labId, taskId, answer }) => ({ url: `/labs/${labId}/tasks/${taskId}/answers`, method: 'POST', body: { answer } }),
      invalidatesTags: (_r, _e, { labId }) => [{ type: 'Tasks', id: labId }],
    }),
    revealHint: build.mutation<HintResult, { labId: string; taskId: string; hintId: string }>({
      query: ({ labId, taskId, hintId }) => ({ url: `/labs/${labId}/tasks/${taskId}/hints/${hintId}`, method: 'POST' }),
      invalidatesTags: (_r, _e, { labId }) => [{ type: 'Tasks', id: labId }],
    }),
    runCheck: build.mutation<CheckResult, { labId: string; taskId: string }>({
      query: ({ labId, taskId }) => ({ url: `/labs/${labId}/tasks/${taskId}/check`, method: 'POST' }),
      invalidatesTags: (_r, _e, { labId }) => [{ type: 'Tasks', id: labId }],
    }),
    revealSolution: build.mutation<SolutionResult, { labId: string; taskId: string }>({
      query: ({ labId, taskId }) => ({ url: `/labs/${labId}/tasks/${taskId}/solution`, method: 'POST' }),
      invalidatesTags: (_r, _e, { labId }) => [{ type: 'Tasks', id: labId }],
    }),
    labSecrets: build.query<LabSecrets, string>({ query: (labId) => `/labs/${labId}/secrets` }),
    taskActivity: build.query<TaskActivity, string>({
      query: (labId) => `/labs/${labId}/task-activity`,
      providesTags: (_r, _e, labId) => [{ type: 'Tasks', id: labId }],
    }),
    importCtfd: build.mutation<CtfdImportResult, string>({
      query: (challenge) => ({ url: '/templates/import/ctfd', method: 'POST', body: { challenge } }),
    }),

    classes: build.query<ClassList, { includeArchived?: boolean } | void>({
      query: (q) => ({ url: '/classes', params: clean(q ?? {}) }),
      providesTags: ['Class'],
    }),
    class: build.query<ClassDetail, string>({ query: (id) => `/classes/${id}`, providesTags: ['Class'] }),
    createClass: build.mutation<ClassDetail, { name: string; description?: string }>({
      query: (body) => ({ url: '/classes', method: 'POST', body }),
      invalidatesTags: ['Class'],
    }),
    updateClass: build.mutation<ClassDetail, { id: string; changes: { name?: string; description?: string; archived?: boolean } }>({
      query: ({ id, changes }) => ({ url: `/classes/${id}`, method: 'PATCH', body: changes }),
      invalidatesTags: ['Class'],
    }),
    addInstructor: build.mutation<ClassDetail, { id: string; username: string }>({
      query: ({ id, username }) => ({ url: `/classes/${id}/instructors`, method: 'POST', body: { username } }),
      invalidatesTags: ['Class'],
    }),
    removeInstructor: build.mutation<ClassDetail, { id: string; username: string }>({
      query: ({ id, username }) => ({ url: `/classes/${id}/instructors/${encodeURIComponent(username)}`, method: 'DELETE' }),
      invalidatesTags: ['Class'],
    }),
    enrolCsv: build.mutation<EnrolResult, { id: string; csv: string }>({
      query: ({ id, csv }) => ({ url: `/classes/${id}/students`, method: 'POST', body: csv, headers: { 'content-type': 'text/csv' } }),
      invalidatesTags: ['Class'],
    }),
    enrolUsernames: build.mutation<EnrolResult, { id: string; usernames: string[] }>({
      query: ({ id, usernames }) => ({ url: `/classes/${id}/students`, method: 'POST', body: { usernames } }),
      invalidatesTags: ['Class'],
    }),
    removeStudent: build.mutation<ClassDetail, { id: string; username: string }>({
      query: ({ id, username }) => ({ url: `/classes/${id}/students/${encodeURIComponent(username)}`, method: 'DELETE' }),
      invalidatesTags: ['Class'],
    }),
    classAssignments: build.query<AssignmentList, string>({ query: (id) => `/classes/${id}/assignments`, providesTags: ['Assignment'] }),
    createAssignment: build.mutation<Assignment, { classId: string; body: CreateAssignmentBody }>({
      query: ({ classId, body }) => ({ url: `/classes/${classId}/assignments`, method: 'POST', body }),
      invalidatesTags: ['Assignment'],
    }),
    updateAssignment: build.mutation<Assignment, { id: string; changes: UpdateAssignmentBody }>({
      query: ({ id, changes }) => ({ url: `/assignments/${id}`, method: 'PATCH', body: changes }),
      invalidatesTags: ['Assignment'],
    }),
    provisionAssignment: build.mutation<ProvisionResult, string>({
      query: (id) => ({ url: `/assignments/${id}/provision`, method: 'POST' }),
      invalidatesTags: ['Assignment', 'LabList'],
    }),
    myAssignments: build.query<AssignmentList, void>({ query: () => '/assignments', providesTags: ['Assignment'] }),
    startAssignmentLab: build.mutation<Lab, string>({
      query: (id) => ({ url: `/assignments/${id}/lab`, method: 'POST' }),
      invalidatesTags: ['Assignment', 'LabList'],
    }),
    gradesCsv: build.mutation<string, string>({ query: (id) => ({ url: `/assignments/${id}/grades.csv`, responseHandler: 'text' }) }),
    scoreboard: build.query<Scoreboard, string>({ query: (id) => `/assignments/${id}/scoreboard`, providesTags: ['Assignment'] }),

    quotas: build.query<QuotaList, void>({ query: () => '/quotas', providesTags: ['Quota'] }),
    setQuota: build.mutation<Quota, { scope: QuotaScope; subject: string; limits: SetQuotaBody }>({
      query: ({ scope, subject, limits }) => ({ url: `/quotas/${scope}/${encodeURIComponent(subject)}`, method: 'PUT', body: limits }),
      invalidatesTags: ['Quota', 'LabList', 'Audit'],
    }),
    deleteQuota: build.mutation<void, { scope: QuotaScope; subject: string }>({
      query: ({ scope, subject }) => ({ url: `/quotas/${scope}/${encodeURIComponent(subject)}`, method: 'DELETE' }),
      invalidatesTags: ['Quota', 'LabList', 'Audit'],
    }),
    users: build.query<UserList, Query | void>({ query: (q) => ({ url: '/users', params: clean(q ?? {}) }), providesTags: ['User'] }),
    createUser: build.mutation<User, CreateUserBody>({
      query: (body) => ({ url: '/users', method: 'POST', body }),
      invalidatesTags: ['User', 'Audit'],
    }),
    updateUser: build.mutation<User, { id: string; changes: UpdateUserBody }>({
      query: ({ id, changes }) => ({ url: `/users/${id}`, method: 'PATCH', body: changes }),
      invalidatesTags: ['User', 'Audit'],
    }),
    resetPassword: build.mutation<void, { id: string; password: string }>({
      query: ({ id, password }) => ({ url: `/users/${id}/password`, method: 'POST', body: { password } }),
      invalidatesTags: ['Audit'],
    }),
    audit: build.query<AuditList, Query | void>({ query: (q) => ({ url: '/audit', params: clean(q ?? {}) }), providesTags: ['Audit'] }),
    images: build.query<ImageList, Query | void>({ query: (q) => ({ url: '/images', params: clean(q ?? {}) }), providesTags: ['Image'] }),
    deleteImage: build.mutation<void, string>({ query: (id) => ({ url: `/images/${id}`, method: 'DELETE' }), invalidatesTags: ['Image'] }),
    saveVmImage: build.mutation<Image, { vmId: string; name: string }>({
      query: ({ vmId, name }) => ({ url: `/vms/${vmId}/images`, method: 'POST', body: { name } }),
      invalidatesTags: ['Image'],
    }),
    system: build.query<SystemInfo, void>({ query: () => '/system', providesTags: ['System'] }),
    admission: build.query<AdmissionStatus, void>({ query: () => '/system/admission', providesTags: ['System'] }),
    hosts: build.query<HostList, void>({ query: () => '/hosts', providesTags: ['Host'] }),
    setHostDrained: build.mutation<Host, { id: string; drained: boolean }>({
      query: ({ id, drained }) => ({ url: `/hosts/${id}/${drained ? 'drain' : 'undrain'}`, method: 'POST' }),
      invalidatesTags: ['Host', 'System', 'Audit'],
    }),
    stats: build.query<PlatformStats, { hours: number }>({ query: ({ hours }) => ({ url: '/system/stats', params: { hours } }) }),
    eventTicket: build.mutation<EventTicket, void>({ query: () => ({ url: '/events/tickets', method: 'POST' }) }),
    consoleTicket: build.mutation<ConsoleTicket, { vmId: string; kind: 'serial' | 'vnc' }>({
      query: ({ vmId, kind }) => ({ url: `/vms/${vmId}/console-tickets`, method: 'POST', body: { kind } }),
    }),
  }),
});

export const {
  useLoginMutation,
  useLogoutMutation,
  useSignInMethodsQuery,
  useTemplatesQuery,
  useTemplateQuery,
  useCreateTemplateMutation,
  useUpdateTemplateMutation,
  useSetTemplateStatusMutation,
  useExportTemplateQuery,
  useTemplateVerificationQuery,
  useLabHelpQuery,
  useAnnouncementsQuery,
  useAssignmentProgressQuery,
  useAdmissionQuery,
  useHostsQuery,
  useSetHostDrainedMutation,
  useAskHelpMutation,
  useHelpQueueQuery,
  useHelpActionMutation,
  useVerifyTemplateMutation,
  useLabsQuery,
  useMyQuotaQuery,
  useLabQuery,
  useStartLabMutation,
  useLabActionMutation,
  useExtendLabMutation,
  useVmActionMutation,
  useSnapshotsQuery,
  useRevertVmMutation,
  useUsersQuery,
  useQuotasQuery,
  useSetQuotaMutation,
  useDeleteQuotaMutation,
  useCreateUserMutation,
  useUpdateUserMutation,
  useResetPasswordMutation,
  useAuditQuery,
  useSystemQuery,
  useImagesQuery,
  useDeleteImageMutation,
  useSaveVmImageMutation,
  useStatsQuery,
  useConsoleTicketMutation,
  useLabTasksQuery,
  useSubmitAnswerMutation,
  useRevealHintMutation,
  useRunCheckMutation,
  useRevealSolutionMutation,
  useLabSecretsQuery,
  useTaskActivityQuery,
  useImportCtfdMutation,
  useClassesQuery,
  useClassQuery,
  useCreateClassMutation,
  useUpdateClassMutation,
  useAddInstructorMutation,
  useRemoveInstructorMutation,
  useEnrolCsvMutation,
  useEnrolUsernamesMutation,
  useRemoveStudentMutation,
  useClassAssignmentsQuery,
  useCreateAssignmentMutation,
  useUpdateAssignmentMutation,
  useProvisionAssignmentMutation,
  useMyAssignmentsQuery,
  useStartAssignmentLabMutation,
  useGradesCsvMutation,
  useScoreboardQuery,
} = api;
