ALTER TABLE "lab_templates" ADD COLUMN "warm_pool_size" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "lab_templates" ADD COLUMN "warm_pool_owner_id" uuid;--> statement-breakpoint
ALTER TABLE "labs" ADD COLUMN "pool" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "lab_templates" ADD CONSTRAINT "lab_templates_warm_pool_owner_id_users_id_fk" FOREIGN KEY ("warm_pool_owner_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "labs_pool_idx" ON "labs" USING btree ("template_id","pool");