"""The catalog of simulated ConnectWise Manage collections.

:data:`RESOURCES` lists every collection the sandbox serves (top-level and per-parent),
each with its model's fields as the 2025.8 OpenAPI spec describes them. The field
tables below were derived once from the spec and are written out compactly, one string
per model: ``name`` (string), ``name:i`` int, ``name:n`` decimal, ``name:b`` bool,
``name:d`` datetime, ``name:a`` array of scalars, ``name:o`` object,
``name>XReference`` reference (``[]`` suffix: array of references),
``name{Model}`` nested object (``[]``: array of them), ``_info``, ``customFields``.

The helpers build the shapes records embed: :func:`make_reference` (what other records
point at), :func:`make_info` (a record's own ``_info``) and :func:`custom_field_values`.
Which API version a body is served in is the server's business (:mod:`.versions`).
"""

from __future__ import annotations

from collections.abc import Mapping

from .model import (
    ARRAY,
    BASE_PLACEHOLDER,
    BOOL,
    CUSTOM_FIELDS,
    DATETIME,
    INFO,
    INT,
    NUMBER,
    OBJECT,
    REF,
    STRING,
    CustomFieldDef,
    Field,
    Resource,
)

# fmt: off
_MODELS: dict[str, str] = {
    "Ticket": """
    id:i summary recordType board>BoardReference status>ServiceStatusReference company>CompanyReference
    site>SiteReference siteName addressLine1 addressLine2 city stateIdentifier zip country>CountryReference
    contact>ContactReference contactName contactPhoneNumber contactPhoneExtension contactEmailAddress
    type>ServiceTypeReference subType>ServiceSubTypeReference item>ServiceItemReference
    team>ServiceTeamReference owner>MemberReference priority>PriorityReference
    serviceLocation>ServiceLocationReference source>ServiceSourceReference estimatedStartDate:d budgetHours:n
    opportunity>OpportunityReference agreement>AgreementReference severity impact externalXRef poNumber
    knowledgeBaseCategoryId:i knowledgeBaseSubCategoryId:i allowAllClientsPortalView:b customerUpdatedFlag:b
    automaticEmailContactFlag:b automaticEmailResourceFlag:b automaticEmailCcFlag:b automaticEmailCc
    contactEmailLookup processNotifications:b closedDate:d closedBy closedFlag:b actualHours:n approved:b
    estimatedExpenseCost:n estimatedExpenseRevenue:n estimatedProductCost:n estimatedProductRevenue:n
    estimatedTimeCost:n estimatedTimeRevenue:n billingMethod subBillingMethod subBillingAmount:n
    subDateAccepted:d dateResolved:d dateResplan:d dateResponded:d resolveMinutes:i resPlanMinutes:i
    respondMinutes:i isInSla:b knowledgeBaseLinkId:i resources parentTicketId:i hasChildTicket:b
    hasMergedChildTicketFlag:b knowledgeBaseLinkType billTime billExpenses billProducts
    location>SystemLocationReference department>SystemDepartmentReference predecessorType predecessorId:i
    predecessorClosedFlag:b lagDays:i lagNonworkingDaysFlag:b estimatedStartDate:d duration:i mobileGuid
    sla>SLAReference slaStatus requestForChangeFlag:b currency>CurrencyReference escalationStartDateUTC:d
    escalationLevel:i minutesBeforeWaiting:i respondedSkippedMinutes:i resplanSkippedMinutes:i agreementType
    billingAmount:n hourlyRate:n initialDescription initialDescriptionFrom initialInternalAnalysis
    initialResolution integratorTags:a mergedParentTicket>TicketReference minutesWaiting:i resolutionHours:n
    resolvedBy resplanBy resplanHours:n respondedBy respondedHours:n skipCallback:b
    workRole>WorkRoleReference workType>WorkTypeReference _info customFields
""",
    "Board": """
    id:i allSort autoAssignLimitAmount:n autoAssignLimitFlag:b autoAssignNewECTicketsFlag:b
    autoAssignNewPortalTicketsFlag:b autoAssignNewTicketsFlag:b autoAssignTicketOwnerFlag:b
    autoCloseStatus>ServiceStatusReference billExpense billProduct billTicketSeparatelyFlag:b
    billTicketsAfterClosedFlag:b billTime billUnapprovedTimeExpenseFlag:b boardIcon>DocumentReference
    closedLoopAllFlag:b closedLoopDiscussionsFlag:b closedLoopInternalAnalysisFlag:b
    closedLoopResolutionFlag:b connectWiseId contactTemplate>ServiceEmailTemplateReference
    department>SystemDepartmentReference discussionsLockedFlag:b dispatchMember>MemberReference
    dutyManagerMember>MemberReference emailConnectorAllowReopenClosedFlag:b
    emailConnectorNeverReopenByDaysClosedFlag:b emailConnectorNeverReopenByDaysFlag:b
    emailConnectorNewTicketNoMatchFlag:b emailConnectorReopenDaysClosedLimit:i
    emailConnectorReopenDaysLimit:i emailConnectorReopenResourcesFlag:b
    emailConnectorReopenStatus>ServiceStatusReference inactiveFlag:b internalAnalysisSort
    location>SystemLocationReference markFirstNoteIssueFlag:b name notifyEmailFrom notifyEmailFromName
    oncallMember>MemberReference overrideBillingSetupFlag:b percentageCalculation problemSort projectFlag:b
    resolutionSort resourceTemplate>ServiceEmailTemplateReference restrictBoardByDefaultFlag:b
    sendToBundledFlag:b sendToCCFlag:b sendToContactFlag:b sendToResourceFlag:b
    serviceManagerMember>MemberReference showDependenciesFlag:b showEstimatesFlag:b
    signOffTemplate>ServiceSignoffReference timeEntryDiscussionFlag:b timeEntryInternalAnalysisFlag:b
    timeEntryLockedFlag:b timeEntryResolutionFlag:b useMemberDisplayNameFlag:b workRole>WorkRoleReference
    workType>WorkTypeReference _info
""",
    "Priority": """
    id:i color defaultFlag:b imageLink level name sortOrder:i urgencySortOrder _info
""",
    "SLA": """
    id:i applicationOrder:i basedOn customCalendar>CalendarReference defaultFlag:b
    hiImpactHiUrgency>PriorityReference hiImpactLowUrgency>PriorityReference
    hiImpactMedUrgency>PriorityReference lowImpactHiUrgency>PriorityReference
    lowImpactLowUrgency>PriorityReference lowImpactMedUrgency>PriorityReference
    medImpactHiUrgency>PriorityReference medImpactLowUrgency>PriorityReference
    medImpactMedUrgency>PriorityReference name planWithin:n planWithinPercent:i resolutionHours:n
    resolutionPercent:i respondHours:n respondPercent:i _info
""",
    "Source": """
    id:i dateEntered:d defaultFlag:b enteredBy name _info
""",
    "Impact": """
    id:i defaultFlag:b description name _info
""",
    "Severity": """
    id:i defaultFlag:b description name _info
""",
    "ServiceLocation": """
    id:i defaultFlag:b name where _info
""",
    "ServiceTeam": """
    id:i deleteNotifyFlag:b department>SystemDepartmentReference leader>MemberReference
    location>SystemLocationReference name _info
""",
    "ServiceTemplate": """
    id:i agreement>AgreementReference assignedBy>MemberReference assignedNotifyFlag:b
    attachScheduleToNewServiceFlag:b billComplete_Flag:b billServiceSeparatelyFlag:b
    billUnapprovedTimeAndExpensesFlag:b billingAmount:n billingMethod board>BoardReference
    company>CompanyReference contact>ContactReference department>SystemDepartmentReference emailCC
    emailCCFlag:b emailContactFlag:b emailResourceFlag:b expenseBillableFlag:b expenseInvoiceFlag:b
    hoursBudget:n impact internalAnalysis item>ServiceItemReference location>SystemLocationReference name
    overrideFlag:b priority>PriorityReference problem productInvoiceFlag:b purchaseOrderNumber reference
    restrictDownpaymentFlag:b scheduleDaysBefore:i serviceDaysBefore:i
    serviceLocation>ServiceLocationReference severity site>SiteReference source>ServiceSourceReference
    status>ServiceStatusReference subtype>ServiceSubTypeReference summary team>ServiceTeamReference
    templateFlag:b timeBillableFlag:b timeInvoiceFlag:b type>ServiceTypeReference _info
""",
    "Code": """
    id:i boardId:i businessUnitId:i description locationId:i name _info
""",
    "ServiceSurvey": """
    id:i connectWiseId footerText footerTextVisibleFlag:b headerIncludeLogoFlag:b headerText
    headerTextVisibleFlag:b inactiveFlag:b name notifyMember>MemberReference
    notifyWho>GenericIdIdentifierReference notifyWhoVisibleFlag:b thankYouText _info
""",
    "KnowledgeBaseArticle": """
    id:i board>BoardReference businessUnitId:i categoryId:i createdBy dateCreated:d issue locationId:i
    resolution subCategoryId:i title _info
""",
    "KnowledgeBaseCategory": """
    id:i approver>MemberReference department>SystemDepartmentReference location>SystemLocationReference name
    _info
""",
    "Company": """
    id:i identifier name status>CompanyStatusReference types>CompanyTypeReference[] site>SiteReference
    addressLine1 addressLine2 city state zip country>CountryReference phoneNumber faxNumber website
    territory>SystemLocationReference accountNumber defaultContact>ContactReference dateAcquired:d
    sicCode>SicCodeReference parentCompany>CompanyReference annualRevenue:n
    timeZoneSetup>TimeZoneSetupReference numberOfEmployees:i ownershipType>OwnershipTypeReference leadSource
    leadFlag:b unsubscribeFlag:b userDefinedField1 userDefinedField2 userDefinedField3 userDefinedField4
    userDefinedField5 userDefinedField6 userDefinedField7 userDefinedField8 userDefinedField9
    userDefinedField10 vendorIdentifier taxIdentifier taxCode>TaxCodeReference
    billingTerms>BillingTermsReference invoiceTemplate>InvoiceTemplateReference
    pricingSchedule>PricingScheduleReference companyEntityType>EntityTypeReference
    billToCompany>CompanyReference billingSite>SiteReference billingContact>ContactReference
    invoiceDeliveryMethod>BillingDeliveryReference invoiceToEmailAddress invoiceCCEmailAddress deletedFlag:b
    dateDeleted:d deletedBy mobileGuid currency>CurrencyReference isVendorFlag:b
    territoryManager>MemberReference additionalDebt:n calendar>CalendarReference creditLimit:n facebookUrl
    integratorTags:a linkedInUrl market>MarketDescriptionReference resellerIdentifier revenueYear:i
    twitterUrl yearEstablished:n _info customFields
""",
    "Contact": """
    id:i firstName lastName company>CompanyReference site>SiteReference inactiveFlag:b title marriedFlag:b
    childrenFlag:b portalSecurityLevel:i disablePortalLoginFlag:b unsubscribeFlag:b mobileGuid
    defaultPhoneType defaultPhoneNbr defaultPhoneExtension defaultBillingFlag:b defaultFlag:b
    companyLocation>SystemLocationReference communicationItems{ContactCommunicationItem}[]
    types>ContactTypeReference[] addressLine1 addressLine2 anniversary:d assistantContact>ContactReference
    birthDay:d children city country>CountryReference defaultMergeContactId:i
    department>ContactDepartmentReference facebookUrl gender ignoreDuplicates:b integratorTags:a linkedInUrl
    managerContact>ContactReference nickName photo>DocumentReference portalPassword presence
    relationship>RelationshipReference relationshipOverride school securityIdentifier significantOther state
    twitterUrl typeIds:a userDefinedField1 userDefinedField10 userDefinedField2 userDefinedField3
    userDefinedField4 userDefinedField5 userDefinedField6 userDefinedField7 userDefinedField8
    userDefinedField9 zip _info customFields
""",
    "ContactCommunicationItem": """
    communicationType defaultFlag:b domain extension id:i type>CommunicationTypeReference value
""",
    "Company.Configuration": """
    id:i activeFlag:b backupBillableSpaceGb:n backupFailed:n backupIncomplete:n backupMonth:n
    backupProtectedDeviceList backupRestores:n backupServerName backupSuccesses:n backupYear:i billFlag:b
    businessUnitId:i company>CompanyReference companyLocationId:i contact>ContactReference cpuSpeed
    defaultGateway department>SystemDepartmentReference deviceIdentifier displayVendorFlag:b
    installationDate:d installedBy>MemberReference ipAddress lastBackupDate:d lastLoginName localHardDrives
    location>SystemLocationReference locationId:i macAddress managementLink
    manufacturer>ManufacturerReference manufacturerPartNumber mobileGuid modelNumber name needsRenewalFlag:b
    notes osInfo osType parentConfigurationId:i purchaseDate:d questions{ConfigurationQuestion}[] ram
    remoteLink serialNumber showAutomateFlag:b showRemoteFlag:b site>SiteReference sla>SLAReference
    status>ConfigurationStatusReference tagNumber type>ConfigurationTypeReference vendor>CompanyReference
    vendorNotes warrantyExpirationDate:d _info customFields
""",
    "ConfigurationQuestion": """
    answer:o answerId:i fieldType numberOfDecimals:i question questionId:i requiredFlag:b sequenceNumber:i
""",
    "ConfigurationType": """
    id:i connectWiseId inactiveFlag:b name systemFlag:b _info
""",
    "ConfigurationStatus": """
    id:i closedFlag:b connectWiseId defaultFlag:b description _info
""",
    "CompanyStatus": """
    id:i cancelOpenTracksFlag:b connectWiseId customNoteFlag:b defaultFlag:b disallowSavingFlag:b
    inactiveFlag:b name notificationMessage notifyFlag:b track>TrackReference _info
""",
    "CompanyType": """
    id:i connectWiseId defaultFlag:b name serviceAlertFlag:b serviceAlertMessage vendorFlag:b _info
""",
    "ContactType": """
    id:i connectWiseId defaultFlag:b description serviceAlertFlag:b serviceAlertMessage _info
""",
    "ContactDepartment": """
    id:i connectWiseId name _info
""",
    "ContactRelationship": """
    id:i name _info
""",
    "Country": """
    id:i addressFormat>AddressFormatReference cityCaption connectWiseId coreEntityCountryCode countryCode
    currency>CurrencyReference defaultFlag:b dialingPrefix disabled:b localizationCaptionOne
    localizationValueOne name stateCaption zipCaption zipMinimumLength:i _info
""",
    "State": """
    id:i country>CountryReference disabled:b identifier name _info
""",
    "TeamRole": """
    id:i accountManagerFlag:b connectWiseId name salesFlag:b techFlag:b _info
""",
    "CompanyNoteType": """
    id:i connectWiseId defaultFlag:b identifier importFlag:b name _info
""",
    "CommunicationType": """
    id:i androidXref defaultFlag:b description disabled:b emailFlag:b exchangeXref faxFlag:b googleXref
    iphoneXref phoneFlag:b _info
""",
    "MarketDescription": """
    id:i connectWiseId name _info
""",
    "OwnershipType": """
    id:i connectWiseId name _info
""",
    "EntityType": """
    id:i name code
""",
    "AccountingPackage": """
    id:i identifier name
""",
    "KPICategory": """
    id:i name sortOrder:i
""",
    "ConfigurationTypeInfo": """
    id:i inactiveFlag:b name systemFlag:b _info
""",
    "TimeEntry": """
    id:i company>CompanyReference chargeToId:i chargeToType member>MemberReference locationId:i
    businessUnitId:i workType>WorkTypeReference workRole>WorkRoleReference agreement>AgreementReference
    timeStart:d timeEnd:d actualHours:n billableOption notes addToDetailDescriptionFlag:b
    addToInternalAnalysisFlag:b addToResolutionFlag:b emailResourceFlag:b emailContactFlag:b emailCcFlag:b
    hoursBilled:n invoiceHours:n extendedInvoiceAmount:n agreementAmount:n enteredBy dateEntered:d
    invoice>InvoiceReference mobileGuid hourlyRate:n timeSheet>TimeSheetReference status
    activity>ActivityReference adjustment:n agreementAdjustment:n agreementHours:n agreementType
    businessGroupDesc companyType department>BillingUnitReference emailCc hourlyCost hoursDeduct:n
    internalNotes invoiceFlag:b invoiceReady:n location>OwnerLevelReference locationName opportunityRecid:n
    overageRate:n phase>ProjectPhaseReference project>ProjectReference projectActivity
    taxCode>TaxCodeReference territory ticket>TicketReference ticketBoard ticketStatus ticketSubType
    ticketType _info customFields
""",
    "TimeSheet": """
    id:i dateEnd:d dateStart:d deadline:d hours:n member>MemberReference period:i status year:i _info
""",
    "WorkType": """
    id:i accrualType activityDefaultFlag:b addAllAgreementExclusions:b billTime costMultiplier:n hoursMax:n
    hoursMin:n inactiveFlag:b integrationXRef name overallDefaultFlag:b rate:n rateType roundBillHoursTo:n
    utilizationFlag:b _info
""",
    "WorkRole": """
    id:i addAllAgreementExclusions:b addAllLocations:b hourlyRate:n inactiveFlag:b integrationXref
    locationIds:a name removeAllLocations:b _info
""",
    "ChargeCode": """
    id:i allowAllExpenseTypeFlag:b billTime company>CompanyReference department>SystemDepartmentReference
    expenseEntryFlag:b expenseTypeIds:a integrationXref location>SystemLocationReference name
    timeEntryFlag:b workRole>WorkRoleReference workType>WorkTypeReference _info
""",
    "TimeAccrual": """
    id:i holidayAvailableType holidayCarryoverAllowedFlag:b holidayCarryoverLimit:n holidayFlag:b
    location>SystemLocationReference ptoAvailableType ptoCarryoverAllowedFlag:b ptoCarryoverLimit:n
    ptoFlag:b sickAvailableType sickCarryoverAllowedFlag:b sickCarryoverLimit:n sickFlag:b
    vacationAvailableType vacationCarryoverAllowedFlag:b vacationCarryoverLimit:n vacationFlag:b _info
""",
    "TimePeriodSetup": """
    id:i daysPastEndDate:i description firstPeriodEndDate:d lastDayFlag:b monthlyPeriodEnds:n
    numberFuturePeriods:n periodApplyTo semiMonthlyFirstPeriod:n semiMonthlyLastDayFlag:b
    semiMonthlySecondPeriod:n type year:i _info
""",
    "ScheduleEntry": """
    id:i acknowledgedDate:d acknowledgedFlag:b addMemberToProjectFlag:b allowScheduleConflictsFlag:b
    closeDate:d dateEnd:d dateStart:d doneFlag:b endTimeSet:b hours:n meetingFlag:b member>MemberReference
    mobileGuid name notificationResponse notificationSent:b notifyResource:b objectId:i ownerFlag:b
    projectRoleId:i reminder>ReminderReference span>ScheduleSpanReference startTimeSet:b
    status>ScheduleStatusReference type>ScheduleTypeReference where>ServiceLocationReference _info
""",
    "ScheduleType": """
    id:i chargeCode>ChargeCodeReference identifier name systemFlag:b where>ServiceLocationReference _info
""",
    "ScheduleStatus": """
    id:i defaultFlag:b name showAsTentativeFlag:b _info
""",
    "Calendar": """
    id:i fridayEndTime fridayStartTime holidayList>HolidayListReference mondayEndTime mondayStartTime name
    saturdayEndTime saturdayStartTime sundayEndTime sundayStartTime thursdayEndTime thursdayStartTime
    tuesdayEndTime tuesdayStartTime wednesdayEndTime wednesdayStartTime _info
""",
    "HolidayList": """
    id:i name _info
""",
    "ScheduleColor": """
    id:i color endPercent:i startPercent:i _info
""",
    "Agreement": """
    id:i agreementStatus allowOverruns:b applicationCycle applicationLimit:n applicationUnits
    applicationUnlimitedFlag:b autoInvoiceFlag:b billAmount:n billExpenses billOneTimeFlag:b billProducts
    billStartDate:d billTime billToCompany>CompanyReference billToContact>ContactReference
    billToSite>SiteReference billableExpenseInvoice:b billableProductInvoice:b billableTimeInvoice:b
    billingCycle>BillingCycleReference billingTerms>BillingTermsReference bottomComment:b cancelledFlag:b
    carryOverUnused:b chargeToFirm:b compHourlyRate:n compLimitAmount:n company>CompanyReference
    companyLocation>SystemLocationReference contact>ContactReference coverAgreementExpense:b
    coverAgreementProduct:b coverAgreementTime:b coverSalesTax:b currency>CurrencyReference customerPO
    dateCancelled:d department>SystemDepartmentReference employeeCompNotExceed employeeCompRate endDate:d
    expireWhenZero:b expiredDays:i internalNotes invoiceDescription invoiceProratedAdditionsFlag:b
    invoiceTemplate>InvoiceTemplateReference invoicingCycle limit:n location>SystemLocationReference name
    nextInvoiceDate:d noEndingDateFlag:b oneTimeFlag:b opportunity>OpportunityReference
    parentAgreement>AgreementReference periodType projectType>ProjectTypeReference prorateFirstBill:n
    prorateFlag:b reasonCancelled restrictDepartmentFlag:b restrictDownPayment:b restrictLocationFlag:b
    shipToCompany>CompanyReference shipToContact>ContactReference shipToSite>SiteReference
    site>SiteReference sla>SLAReference startDate:d subContractCompany>CompanyReference
    subContractContact>ContactReference taxCode>TaxCodeReference taxable:b topComment:b
    type>AgreementTypeReference workOrder workRole>WorkRoleReference workType>WorkTypeReference _info
    customFields
""",
    "AgreementType": """
    id:i addAllWorkRoleExclusions:b addAllWorkTypeExclusions:b allowOverrunsFlag:b applicationCycle
    applicationLimit:n applicationUnits applicationUnlimitedFlag:b autoInvoiceFlag:b billAmount:n
    billExpenses billOneTimeFlag:b billProducts billTime billableExpenseInvoiceFlag:b
    billableProductInvoiceFlag:b billableTimeInvoiceFlag:b billingCycle>BillingCycleReference
    billingTerms>BillingTermsReference bottomCommentFlag:b carryOverUnusedFlag:b chargeToFirmFlag:b
    compHourlyRate:n compLimitAmount:n connectWiseId copyWorkRolesFlag:b copyWorkTypesFlag:b
    coverAgreementExpenseFlag:b coverAgreementProductFlag:b coverAgreementTimeFlag:b coverSalesTaxFlag:b
    defaultFlag:b department>SystemDepartmentReference emailTemplate>EmailTemplateReference
    employeeCompNotExceed employeeCompRate exclusionWorkRoleIds:a exclusionWorkTypeIds:a expireWhenZero:b
    expiredDays:i inactiveFlag:b integrationXRef invoiceDescription invoicePreSuffix
    invoiceProratedAdditionsFlag:b invoiceTemplate>InvoiceTemplateReference invoicingCycle limit:n
    location>SystemLocationReference name oneTimeFlag:b prePaymentFlag:b prefixSuffixOption
    projectType>ProjectTypeReference prorateFlag:b removeAllWorkRoleExclusions:b
    removeAllWorkTypeExclusions:b restrictDepartmentFlag:b restrictDownPaymentFlag:b restrictLocationFlag:b
    sla>SLAReference taxableFlag:b topCommentFlag:b workRole>WorkRoleReference workType>WorkTypeReference
    _info
""",
    "Invoice": """
    id:i accountNumber addToBatchEmailList:b adjustedBy adjustmentReason agreement>AgreementReference
    agreementAmount:n applyToId:i applyToType attention balance:n billToCompany>CompanyReference
    billingSetupReference>BillingSetupReference billingSite>SiteReference billingSiteAddressLine1
    billingSiteAddressLine2 billingSiteCity billingSiteCountry billingSiteState billingSiteZip
    billingTerms>BillingTermsReference bottomComment closedBy company>CompanyReference credits:n
    currency>CurrencyReference customerPO date:d department>BillingUnitReference departmentId:i
    downpaymentApplied:n downpaymentPreviouslyTaxedFlag:b dueDate:d emailTemplateId:i expenseTotal:n
    glBatch>BatchReference internalNotes invoiceNumber invoiceTemplate>InvoiceTemplateDetailReference
    location>SystemLocationReference locationId:i overrideDownPaymentAmountFlag:b payments:n
    phase>ProjectPhaseReference previousProgressApplied:n productTotal:n project>ProjectReference reference
    remainingDownpayment:n restrictDownpaymentFlag:b salesOrder>SalesOrderReference salesTax:n
    serviceAdjustmentAmount:n serviceTotal:n shipToAttention shipToCompany>CompanyReference
    shippingSite>SiteReference shippingSiteAddressLine1 shippingSiteAddressLine2 shippingSiteCity
    shippingSiteCountry shippingSiteState shippingSiteZip specialInvoiceFlag:b status>BillingStatusReference
    subtotal:n taxCode>TaxCodeReference taxableFlag:b templateSetupId:i territory>SystemLocationReference
    territoryId:i ticket>TicketReference topComment total:n type unbatchedBatch>BatchReference _info
    customFields
""",
    "BillingCycle": """
    id:i billingOptions defaultFlag:b identifier name _info
""",
    "BillingStatus": """
    id:i closedFlag:b defaultFlag:b inactiveFlag:b name sentFlag:b sortOrder:i _info
""",
    "BillingTerm": """
    id:i defaultFlag:b dueDays:i name termsXref _info
""",
    "Finance.Currency": """
    id:i currencyCode>CurrencyCodeReference currencyIdentifier decimalSeparator displayIdFlag:b
    displaySymbolFlag:b name negativeParenthesesFlag:b numberOfDecimals:i reportFormat rightAlign:b symbol
    thousandsSeparator _info
""",
    "GLAccount": """
    id:i cogs1 cogs10 cogs2 cogs3 cogs4 cogs5 cogs6 cogs7 cogs8 cogs9 glType inventory
    mappedRecord>MappedRecordReference mappedType>MappedTypeReference productId salesCode segment1 segment10
    segment2 segment3 segment4 segment5 segment6 segment7 segment8 segment9 _info
""",
    "TaxCode": """
    id:i addAllExpenseTypes:b addAllProductTypes:b addAllWorkRoles:b canadaCalculateGSTFlag:b cancelDate:d
    country>CountryReference defaultFlag:b description displayOnInvoiceFlag:b effectiveDate:d
    expenseTypeIds:a identifier invoiceCaption levelFiveAgencyXref levelFiveApplySingleUnitFlag:b
    levelFiveApplySingleUnitMax:n levelFiveApplySingleUnitMin:n levelFiveCaption levelFiveExpensesFlag:b
    levelFiveProductsFlag:b levelFiveRate:n levelFiveRateType levelFiveServicesFlag:b levelFiveTaxCodeXref
    levelFiveTaxableMax:n levelFourAgencyXref levelFourApplySingleUnitFlag:b levelFourApplySingleUnitMax:n
    levelFourApplySingleUnitMin:n levelFourCaption levelFourExpensesFlag:b levelFourProductsFlag:b
    levelFourRate:n levelFourRateType levelFourServicesFlag:b levelFourTaxCodeXref levelFourTaxableMax:n
    levelOneAgencyXref levelOneApplySingleUnitFlag:b levelOneApplySingleUnitMax:n
    levelOneApplySingleUnitMin:n levelOneCaption levelOneExpensesFlag:b levelOneProductsFlag:b
    levelOneRate:n levelOneRateType levelOneServicesFlag:b levelOneTaxCodeXref levelOneTaxableMax:n
    levelSixAgencyXref levelSixApplySingleUnitFlag:b levelSixApplySingleUnitMax:n
    levelSixApplySingleUnitMin:n levelSixCaption levelSixExpensesFlag:b levelSixProductsFlag:b
    levelSixRate:n levelSixRateType levelSixServicesFlag:b levelSixTaxCodeXref levelSixTaxableMax:n
    levelThreeAgencyXref levelThreeApplySingleUnitFlag:b levelThreeApplySingleUnitMax:n
    levelThreeApplySingleUnitMin:n levelThreeCaption levelThreeExpensesFlag:b levelThreeProductsFlag:b
    levelThreeRate:n levelThreeRateType levelThreeServicesFlag:b levelThreeTaxCodeXref
    levelThreeTaxableMax:n levelTwoAgencyXref levelTwoApplySingleUnitFlag:b levelTwoApplySingleUnitMax:n
    levelTwoApplySingleUnitMin:n levelTwoCaption levelTwoExpensesFlag:b levelTwoProductsFlag:b
    levelTwoRate:n levelTwoRateType levelTwoServicesFlag:b levelTwoTaxCodeXref levelTwoTaxableMax:n
    productTypeIds:a removeAllExpenseTypes:b removeAllProductTypes:b removeAllWorkRoles:b workRoleIds:a
    _info
""",
    "DeliveryMethod": """
    id:i defaultFlag:b emailFlag:b integrationActiveFlag:b integrationEmailFlag:b integrationPrintFlag:b
    name _info
""",
    "ExpenseEntry": """
    id:i agreement>AgreementReference agreementAmount:n amount:n billAmount:n billableOption
    businessUnitId:i chargeToId:i chargeToType classification>ClassificationReference
    company>CompanyReference currency>CurrencyReference date:d expenseReport>ExpenseReportReference
    invoice>InvoiceReference invoiceAmount:n locationId:i member>MemberReference mobileGuid notes
    odometerEnd:n odometerStart:n paymentMethod>PaymentMethodReference phase>ProjectPhaseReference
    project>ProjectReference status taxes{ExpenseTax}[] ticket>TicketReference type>ExpenseTypeReference
    _info customFields
""",
    "ExpenseTax": """
    amount:n id:i type>ExpenseTaxTypeReference
""",
    "ExpenseReport": """
    id:i dateEnd:d dateStart:d dueDate:d member>MemberReference period:i status total:n year:i _info
""",
    "ExpenseType": """
    id:i advancedAmountFlag:b amountCaption billExpenses connectWiseId defaultFlag:b inactiveFlag:b
    integrationXRef invoiceMarkupAmount:n invoiceMarkupOption maxAmount:n mileageFlag:b name quantityFlag:b
    reimbursementRate:n _info
""",
    "Classification": """
    id:i companyFlag:b defaultFlag:b employeeFlag:b multiplier:n name _info
""",
    "PaymentType": """
    id:i classification>ClassificationReference companyFlag:b defaultFlag:b name _info
""",
    "Project": """
    id:i actualEnd:d actualHours:n actualStart:d agreement>AgreementReference billExpenses billProducts
    billProjectAfterClosedFlag:b billTime billToCompany>CompanyReference billToContact>ContactReference
    billToSite>SiteReference billUnapprovedTimeAndExpense:b billingAmount:n billingAttention billingMethod
    billingRateType billingStartDate:d billingTerms>BillingTermsReference board>ProjectBoardReference
    budgetAnalysis budgetFlag:b budgetHours:n closedFlag:b company>CompanyReference
    companyLocation>SystemLocationReference contact>ContactReference currency>CurrencyReference customerPO
    department>SystemDepartmentReference description doNotDisplayInPortalFlag:b downpayment:n estimatedEnd:d
    estimatedExpenseCost:n estimatedExpenseRevenue:n estimatedHours:n estimatedProductCost:n
    estimatedProductRevenue:n estimatedStart:d estimatedTimeCost:n estimatedTimeRevenue:n
    expenseApprover>MemberReference includeDependenciesFlag:b includeEstimatesFlag:b
    location>SystemLocationReference manager>MemberReference name opportunity>OpportunityReference
    overridePercentComplete:b percentComplete:n poAmount:n projectTemplateId:i restrictDownPaymentFlag:b
    scheduledEnd:d scheduledHours:n scheduledStart:d shipToCompany>CompanyReference
    shipToContact>ContactReference shipToSite>SiteReference showOverridePercentFlag:b site>SiteReference
    status>ProjectStatusReference taxCode>TaxCodeReference timeApprover>MemberReference
    type>ProjectTypeReference _info customFields
""",
    "ProjectTicket": """
    id:i actualHours:n addressLine1 addressLine2 agreement>AgreementReference agreementType
    allowAllClientsPortalView:b approved:b automaticEmailCc automaticEmailCcFlag:b
    automaticEmailContactFlag:b automaticEmailResourceFlag:b billExpenses billProducts billTime
    board>BoardReference budgetHours:n city closedBy closedDate:d closedFlag:b company>CompanyReference
    contact>ContactReference contactEmailAddress contactEmailLookup contactName contactPhoneExtension
    contactPhoneNumber country>CountryReference currency>CurrencyReference customerUpdatedFlag:b
    department>SystemDepartmentReference duration:i estimatedStartDate:d initialDescription
    initialInternalAnalysis initialResolution isIssueFlag:b item>ServiceItemReference
    knowledgeBaseCategoryId:i knowledgeBaseLinkId:i knowledgeBaseLinkType knowledgeBaseSubCategoryId:i
    lagDays:i lagNonworkingDaysFlag:b location>SystemLocationReference mobileGuid
    opportunity>OpportunityReference owner>MemberReference phase>ProjectPhaseReference
    predecessorClosedFlag:b predecessorId:i predecessorType priority>PriorityReference
    processNotifications:b project>ProjectReference requiredDate:d resources scheduleEndDate:d
    scheduleStartDate:d serviceLocation>ServiceLocationReference site>SiteReference siteName skipCallback:b
    source>ServiceSourceReference stateIdentifier status>ServiceStatusReference subBillingAmount:n
    subBillingMethod subDateAccepted:d subType>ServiceSubTypeReference summary tasks{TicketTask}[]
    type>ServiceTypeReference wbsCode workRole>WorkRoleReference workType>WorkTypeReference zip _info
    customFields
""",
    "TicketTask": """
    id:i childScheduleAction childTicketId:i closedFlag:b code>ServiceCodeReference member>MemberReference
    notes priority:i resolution schedule>ScheduleEntryReference summary ticketId:i _info
""",
    "ProjectType": """
    id:i defaultFlag:b inactiveFlag:b integrationXref name _info
""",
    "ProjectStatus": """
    id:i closedFlag:b connectWiseId customStatusIndicatorName defaultFlag:b inactiveFlag:b name noTimeFlag:b
    statusIndicator>StatusIndicatorReference _info
""",
    "PhaseStatus": """
    id:i boardAssociationIds:a closedFlag:b collapsedFlag:b customStatusIndicatorName defaultFlag:b
    inactiveFlag:b name statusIndicator>StatusIndicatorReference _info
""",
    "ProjectSecurityRole": """
    id:i defaultContactFlag:b managerRoleFlag:b name _info
""",
    "Opportunity": """
    id:i billToCompany>CompanyReference billToContact>ContactReference billToSite>SiteReference
    billingTerms>BillingTermsReference businessUnitId:i campaign>CampaignReference closedBy>MemberReference
    closedDate:d company>CompanyReference companyLocationId:i contact>ContactReference
    currency>CurrencyReference customerPO dateBecameLead:d expectedCloseDate:d locationId:i name notes
    pipelineChangeDate:d primarySalesRep>MemberReference priority>OpportunityPriorityReference
    probability>OpportunityProbabilityReference rating>OpportunityRatingReference
    secondarySalesRep>MemberReference shipToCompany>CompanyReference shipToContact>ContactReference
    shipToSite>SiteReference site>SiteReference source stage>OpportunityStageReference
    status>OpportunityStatusReference taxCode>TaxCodeReference technicalContact>ContactReference
    totalSalesTax:n type>OpportunityTypeReference _info customFields
""",
    "OpportunityStatus": """
    id:i closedFlag:b dateEntered:d defaultFlag:b enteredBy inactiveFlag:b lostFlag:b name wonFlag:b _info
""",
    "OpportunityType": """
    id:i description inactiveFlag:b _info
""",
    "OpportunityRating": """
    id:i name sortOrder:i _info
""",
    "Activity": """
    id:i agreement>AgreementReference assignTo>MemberReference assignedBy>MemberReference
    campaign>CampaignReference company>CompanyReference contact>ContactReference currency>CurrencyReference
    dateEnd:d dateStart:d email mobileGuid name notes notifyFlag:b opportunity>OpportunityReference
    phoneNumber reminder>ReminderReference scheduleStatus>ScheduleStatusReference
    status>ActivityStatusReference ticket>TicketReference type>ActivityTypeReference
    where>ServiceLocationReference _info customFields
""",
    "ActivityStatus": """
    id:i closedFlag:b connectWiseId defaultFlag:b inactiveFlag:b name spawnFollowupFlag:b _info
""",
    "ActivityType": """
    id:i connectWiseId defaultFlag:b emailFlag:b historyFlag:b inactiveFlag:b memoFlag:b name points:n _info
""",
    "Order": """
    id:i billClosedFlag:b billShippedFlag:b billToCompany>CompanyReference billToContact>ContactReference
    billToSite>SiteReference billingTerms>BillingTermsReference bottomCommentFlag:b company>CompanyReference
    companyLocation>SystemLocationReference configIds:a contact>ContactReference currency>CurrencyReference
    department>SystemDepartmentReference description documentIds:a dueDate:d email invoiceIds:a
    location>SystemLocationReference notes opportunity>OpportunityReference orderDate:d phone phoneExt
    poNumber productIds:a restrictDownpaymentFlag:b salesRep>MemberReference shipToCompany>CompanyReference
    shipToContact>ContactReference shipToSite>SiteReference site>SiteReference status>OrderStatusReference
    subTotal:n taxCode>TaxCodeReference taxTotal:n topCommentFlag:b total:n _info customFields
""",
    "OrderStatus": """
    id:i closedFlag:b defaultFlag:b emailTemplate>OrderStatusEmailTemplateReference inactiveFlag:b name
    sortOrder:i _info
""",
    "SalesProbability": """
    id:i probability:n _info
""",
    "OpportunityStage": """
    id:i color name probability>OpportunityProbabilityReference sequenceNumber:i _info
""",
    "Role": """
    id:i name _info
""",
    "SalesQuota": """
    id:i aprilMargin:n aprilRevenue:n augustMargin:n augustRevenue:n category>ProductCategoryReference
    currency>CurrencyReference decemberMargin:n decemberRevenue:n department>SystemDepartmentReference
    februaryMargin:n februaryRevenue:n forecastYear:i januaryMargin:n januaryRevenue:n julyMargin:n
    julyRevenue:n juneMargin:n juneRevenue:n location>SystemLocationReference marchMargin:n marchRevenue:n
    mayMargin:n mayRevenue:n member>MemberReference novemberMargin:n novemberRevenue:n octoberMargin:n
    octoberRevenue:n septemberMargin:n septemberRevenue:n subCategory>ProductSubCategoryReference _info
""",
    "SalesTeam": """
    id:i inactiveFlag:b salesTeamDescription salesTeamIdentifier salesTeamLocation>SystemLocationReference
    _info
""",
    "ProductItem": """
    id:i addComponentsFlag:b agreement>AgreementReference agreementAmount:n asioSubscriptionsID
    billableOption businessUnit>BillingUnitReference businessUnitId:i bypassForecastUpdate:b
    calculatedCost:n calculatedCostFlag:b calculatedPrice:n calculatedPriceFlag:b cancelledBy:n
    cancelledDate:d cancelledFlag:b cancelledReason catalogItem>CatalogItemReference
    company>CompanyReference cost:n customerDescription description discount:i dropshipFlag:b
    entityType>EntityTypeReference extCost:n extPrice:n forecastDetailId:i
    forecastStatus>OpportunityStatusReference ignorePricingSchedulesFlag:b integrationXRef internalNotes
    invoice>InvoiceReference invoiceGrouping>InvoiceGroupingReference listPrice:n
    location>SystemLocationReference locationId:i margin:n minimumStockFlag:b needToOrderQuantity:n
    needToPurchaseFlag:b opportunity>OpportunityReference phase>ProjectPhaseReference phaseProductFlag:b
    poApprovedFlag:b price:n priceMethod productClass productSuppliedFlag:b project>ProjectReference
    purchaseDate:d quantity:n quantityCancelled:n recurring{ProductRecurring} salesOrder>SalesOrderReference
    sequenceNumber:i serialNumberIds:a serialNumbers:a shipSet sla>SLAReference specialOrderFlag:b
    subContractorAmountLimit:n subContractorShipToId:i taxCode>TaxCodeReference taxableFlag:b
    ticket>TicketReference unitOfMeasure>UnitOfMeasureReference uom vendor>CompanyReference vendorSku
    warehouse warehouseBin warehouseBinId:i warehouseBinIdObject>WarehouseBinReference warehouseId:i
    warehouseIdObject>WarehouseReference _info customFields
""",
    "ProductRecurring": """
    agreementType>AgreementTypeReference billCycle>BillingCycleReference billCycleId:i cycleType cycles:n
    endDate:d recurringCost:n recurringRevenue:n startDate:d
""",
    "PurchaseOrder": """
    id:i businessUnit>BillingUnitReference businessUnitId:i cancelReason closedBy closedFlag:b
    currency>CurrencyReference customerCity customerCompany>CompanyReference
    customerContact>ContactReference customerCountry>CountryReference customerExtension customerName
    customerPhone customerSite>SiteReference customerSiteName customerState customerStreetLine1
    customerStreetLine2 customerZip dateClosed:d dropShipCustomerFlag:b enteredBy freightCost:n
    freightPackingSlip freightTaxTotal:n internalNotes location>SystemLocationReference locationId:i
    poDate:d poNumber salesTax:n shipmentDate:d shipmentMethod>ShipmentMethodReference shippingInstructions
    status>PurchaseOrderStatusReference subTotal:n taxCode>TaxCodeReference taxFreightFlag:b taxPoFlag:b
    terms>BillingTermsReference total:n trackingNumber updateShipmentInfo:b updateVendorOrderNumber:b
    vendorCompany>CompanyReference vendorContact>ContactReference vendorInvoiceDate:d vendorInvoiceNumber
    vendorOrderNumber vendorSite>SiteReference warehouse>WarehouseReference
    warehouseContact>ContactReference _info customFields
""",
    "PurchaseOrderStatus": """
    id:i closedFlag:b defaultClosedFlag:b defaultFlag:b
    emailTemplate>PurchaseOrderStatusEmailTemplateReference inactiveFlag:b name sortOrder:i _info
""",
    "CatalogItem": """
    id:i agreementType>AgreementTypeReference autoUpdateUnitCostFlag:b autoUpdateUnitPriceFlag:b
    billableOption calculatedCost:n calculatedCostFlag:b calculatedPrice:n calculatedPriceFlag:b
    category>ProductCategoryReference connectWiseID cost:n customerDescription description dropShipFlag:b
    entityType>EntityTypeReference identifier inactiveFlag:b integrationXRef
    manufacturer>ManufacturerReference manufacturerPartNumber markupFlag:b markupPercentage:n
    minStockLevel:i notes phaseProductFlag:b price:n priceAttribute productClass
    recurringBillCycle>BillingCycleReference recurringCost:n recurringCycleType recurringFlag:b
    recurringOneTimeFlag:b recurringRevenue:n serializedCostFlag:b serializedFlag:b sla>SLAReference
    specialOrderFlag:b subcategory>ProductSubCategoryReference taxableFlag:b type>ProductTypeReference
    unitOfMeasure>UnitOfMeasureReference vendor>CompanyReference vendorSku _info customFields
""",
    "Category": """
    id:i addAllLocations:b defaultFlag:b inactiveFlag:b integrationXref locationIds:a name priceLevelXref
    removeAllLocations:b _info
""",
    "SubCategory": """
    id:i category>ProductCategoryReference defaultFlag:b inactiveFlag:b integrationXref name _info
""",
    "Manufacturer": """
    id:i inactiveFlag:b name _info
""",
    "ProductType": """
    id:i defaultFlag:b inactiveFlag:b name typeXref _info
""",
    "Warehouse": """
    id:i company>CompanyReference contact>ContactReference currency>CurrencyReference
    department>SystemDepartmentReference inactiveFlag:b location>SystemLocationReference
    locationDefaultFlag:b locationXref lockedFlag:b manager>MemberReference name overallDefaultFlag:b
    site>SiteReference _info
""",
    "WarehouseBin": """
    id:i company>CompanyReference defaultFlag:b department>SystemDepartmentReference height:n inactiveFlag:b
    length:n location>SystemLocationReference manager>MemberReference maxQuantity:n minQuantity:n name
    overflowBin>WarehouseBinReference quantityOnHand:n transferBin>WarehouseBinReference
    warehouse>WarehouseReference weight:n width:n _info
""",
    "ShipmentMethod": """
    id:i defaultFlag:b name trackingUrl _info
""",
    "UnitOfMeasure": """
    id:i defaultFlag:b inactiveFlag:b name uomScheduleXref _info
""",
    "ProcurementAdjustment": """
    id:i adjustmentDetails{AdjustmentDetail}[] closedBy closedDate:d closedFlag:b identifier notes reason
    type>AdjustmentTypeReference _info
""",
    "AdjustmentDetail": """
    _info adjustment>AdjustmentReference catalogItem>CatalogItemReference description id:i
    quantityAdjusted:n quantityOnHand:n serialNumber unitCost:n warehouse>WarehouseReference
    warehouseBin>WarehouseBinReference
""",
    "Campaign": """
    id:i actualCost:n actualGrossMargin:n actualROI:n actualRevenue:n budgetCost:n budgetGrossMargin:n
    budgetROI:n budgetRevenue:n defaultGroup>GroupReference emailsSent:n endDate:d impressions:n inactive:b
    inactiveDaysAfterEnd:i locationId:i marketingManagerDefaultTrackId:i member>MemberReference name notes
    opportunityDefaultTrackId:i startDate:d status>CampaignStatusReference subType>CampaignSubTypeReference
    type>CampaignTypeReference _info
""",
    "Group": """
    id:i inactiveFlag:b name publicDescription publicFlag:b _info
""",
    "CampaignType": """
    id:i defaultFlag:b name _info
""",
    "CampaignStatus": """
    id:i defaultFlag:b inactiveFlag:b name _info
""",
    "Member": """
    id:i adminFlag:b agreementInvoicingDisplayOptions allowExpensesEnteredAgainstCompaniesFlag:b
    allowInCellEntryOnTimeSheet:b authenticationServiceType autoPopupQuickNotesWithStopwatch:b
    autoStartStopwatch:b billableForecast:n calendar>CalendarReference calendarSyncIntegrationFlag:b
    clientId companyActivityTabFormat copyColumnLayoutsAndFilters:b copyPodLayouts:b
    copySharedDefaultViews:b country>CountryReference dailyCapacity:n daysTolerance:i
    defaultDepartment>SystemDepartmentReference defaultEmail defaultLocation>SystemLocationReference
    defaultPhone directionalSync>DirectionalSyncReference disableOnlineFlag:b employeeIdentifer
    enableLdapAuthenticationFlag:b enableMobileFlag:b enableMobileGpsFlag:b enterTimeAgainstCompanyFlag:b
    excludedProjectBoardIds:a excludedServiceBoardIds:a expenseApprover>MemberReference firstName
    fromMemberRecId:i fromMemberTemplateRecId:i globalSearchDefaultSort globalSearchDefaultTicketFilter
    hideMemberInDispatchPortalFlag:b hireDate:d homeEmail homeExtension homePhone hourlyCost:n hourlyRate:n
    identifier inactiveDate:d inactiveFlag:b includeInUtilizationReportingFlag:b
    invoiceScreenDefaultTabFormat invoiceTimeTabFormat invoicingDisplayOptions lastLogin:d lastName
    ldapConfiguration>LdapConfigurationReference ldapUserName licenseClass mapiName memberPersonas:a
    middleInitial minimumHours:n mobileEmail mobileExtension mobilePhone notes office365{MemberOffice365}
    officeEmail officeExtension officePhone partnerPortalFlag:b password phoneIntegrationType phoneSource
    photo>DocumentReference primaryEmail projectDefaultBoard>ProjectBoardReference
    projectDefaultDepartment>SystemDepartmentReference projectDefaultLocation>SystemLocationReference
    reportCard>ReportCardReference reportsTo>MemberReference requireExpenseEntryFlag:b
    requireStartAndEndTimeOnTimeEntryFlag:b requireTimeSheetEntryFlag:b restrictDefaultSalesTerritoryFlag:b
    restrictDefaultWarehouseBinFlag:b restrictDefaultWarehouseFlag:b restrictDepartmentFlag:b
    restrictLocationFlag:b restrictProjectDefaultDepartmentFlag:b restrictProjectDefaultLocationFlag:b
    restrictScheduleFlag:b restrictServiceDefaultDepartmentFlag:b restrictServiceDefaultLocationFlag:b
    salesDefaultLocation>SystemLocationReference scheduleCapacity:n
    scheduleDefaultDepartment>SystemDepartmentReference scheduleDefaultLocation>SystemLocationReference
    securityLocation>SystemLocationReference securityRole>SecurityRoleReference serviceBoardTeamIds:a
    serviceDefaultBoard>BoardReference serviceDefaultDepartment>SystemDepartmentReference
    serviceDefaultLocation>SystemLocationReference serviceLocation>ServiceLocationReference signature
    ssoSettings>MemberSsoSettingsReference structureLevel>StructureReference stsUserAdminUrl teams:a
    timeApprover>MemberReference timeReminderEmailFlag:b timeSheetStartDate:d
    timeZone>TimeZoneSetupReference timebasedOneTimePasswordActivated:b title toastNotificationFlag:b token
    type>MemberTypeReference useBrowserLanguageFlag:b vendorNumber warehouse>WarehouseReference
    warehouseBin>WarehouseBinReference workRole>WorkRoleReference workType>WorkTypeReference _info
    customFields
""",
    "MemberOffice365": """
    id name
""",
    "Department": """
    id:i identifier name _info
""",
    "Location": """
    id:i calendar>CalendarReference clientFlag:b departmentIds:a locationFlag:b manager>MemberReference name
    overrideAddressLine1 overrideAddressLine2 overrideCity overrideCountry>CountryReference
    overrideFaxNumber overridePhoneNumber overrideState overrideZip owaUrl ownerLevelId:i payrollXref
    reportsTo>SystemLocationReference salesRep structureLevel>CorporateStructureLevelReference
    timeZoneSetup>TimeZoneSetupReference workRoleIds:a _info
""",
    "CallbackEntry": """
    id:i connectWiseID description inactiveFlag:b isSelfSuppressedFlag:b isSoapCallbackFlag:b level
    memberId:i objectId:i payloadVersion type url _info
""",
    "SecurityRole": """
    id:i adminFlag:b inactiveFlag:b name roleType _info
""",
    "UserDefinedField": """
    id:i addAllBusinessUnits:b addAllLocations:b businessUnitIds:a buttonUrl caption connectWiseID
    dateCreated:d displayOnScreenFlag:b entryTypeIdentifier fieldTypeIdentifier helpText listViewFlag:b
    locationIds:a numberDecimals:i options{UserDefinedFieldOption}[] podId:i readOnlyFlag:b
    removeAllBusinessUnits:b removeAllLocations:b requiredFlag:b screenId sequenceNumber:i _info
""",
    "UserDefinedFieldOption": """
    defaultFlag:b id:i inactiveFlag:b optionValue sortOrder:i
""",
    "Workflow": """
    id:i activateFlag:b batchFrequencyUnit batchInterval:n batchLastRan:d batchSchedule board>BoardReference
    connectWiseID department>SystemDepartmentReference location>SystemLocationReference name
    tableType>WorkflowTableTypeReference _info
""",
    "Survey": """
    id:i inactiveFlag:b instructions name _info
""",
    "StandardNote": """
    id:i board>BoardReference contents department>SystemDepartmentReference location>SystemLocationReference
    name _info
""",
    "Skill": """
    id:i category>SkillCategoryReference name _info
""",
    "SkillCategory": """
    id:i name _info
""",
    "Certification": """
    id:i company>CompanyReference name _info
""",
    "MemberType": """
    id:i inactiveFlag:b name _info
""",
    "ApiMember": """
    id:i blockCostFlag:b blockPriceFlag:b defaultDepartment>SystemDepartmentReference
    defaultLocation>SystemLocationReference emailAddress excludedServiceBoardIds:a identifier inactiveDate:d
    inactiveFlag:b name notes salesDefaultLocation>SystemLocationReference
    securityLocation>SystemLocationReference securityRole>SecurityRoleReference
    serviceDefaultBoard>BoardReference structureLevel>StructureReference timeZone>TimeZoneSetupReference
    _info
""",
    "ReportCard": """
    id:i name _info
""",
    "TimeZoneSetup": """
    id:i daylightSavingsFlag:b defaultFlag:b name offset:i timeZone>TimeZoneReference _info
""",
    "ServiceNote": """
    id:i ticketId:i text detailDescriptionFlag:b internalAnalysisFlag:b resolutionFlag:b issueFlag:b
    member>MemberReference dateCreated:d createdBy internalFlag:b externalFlag:b contact>ContactReference
    customerUpdatedFlag:b processNotifications:b sentimentScore:n _info
""",
    "ServiceTask": """
    id:i childScheduleAction childTicketId:i closedFlag:b code>ServiceCodeReference member>MemberReference
    notes priority:i resolution schedule>ScheduleEntryReference summary ticketId:i _info
""",
    "BoardStatus": """
    id:i board>BoardReference closedStatus:b connectWiseId customStatusIndicatorName
    customerPortalDescription customerPortalFlag:b defaultFlag:b displayOnBoard:b
    emailTemplate>ServiceEmailTemplateReference escalationStatus grandParentConnectWiseId grandParentId:i
    inactive:b name parentConnectWiseId parentId:i roundRobinCatchall:b saveTimeAsNote:b sortOrder:i
    statusIndicator>StatusIndicatorReference timeEntryNotAllowed:b _info
""",
    "BoardType": """
    id:i board>BoardReference category connectWiseId defaultFlag:b department>SystemDepartmentReference
    grandParentConnectWiseId grandParentId:i inactiveFlag:b integrationXref location>SystemLocationReference
    name parentConnectWiseId parentId:i requestForChangeFlag:b skill>SkillReference
    skillCategory>SkillCategoryReference _info
""",
    "BoardSubType": """
    id:i addAllTypesFlag:b board>BoardReference connectWiseId grandParentConnectWiseId grandParentId:i
    inactiveFlag:b name parentConnectWiseId parentId:i removeAllTypesFlag:b typeAssociationIds:a _info
""",
    "BoardItem": """
    id:i board>BoardReference connectWiseId grandParentConnectWiseId grandParentId:i inactiveFlag:b name
    parentConnectWiseId parentId:i _info
""",
    "BoardTeam": """
    id:i boardId:i businessUnitId:i connectWiseId defaultFlag:b defaultRoundRobinFlag:b
    grandParentConnectWiseId grandParentId:i locationId:i members:a name notifyOnTicketDelete:b
    parentConnectWiseId parentId:i roundRobinFlag:b teamLeader>MemberReference _info
""",
    "CompanySite": """
    id:i addressFormat addressLine1 addressLine2 billSeparateFlag:b calendar>CalendarReference city
    company>CompanyReference country>CountryReference defaultBillingFlag:b defaultMailingFlag:b
    defaultShippingFlag:b entityType>EntityTypeReference expenseReimbursement:n faxNumber inactiveFlag:b
    mobileGuid name phoneNumber phoneNumberExt primaryAddressFlag:b stateReference>StateReference
    taxCode>TaxCodeReference timeZone>TimeZoneSetupReference zip _info customFields
""",
    "CompanyNote": """
    id:i company>CompanyReference enteredBy flagged:b text type>NoteTypeReference _info
""",
    "ContactCommunication": """
    id:i communicationType contactId:i defaultFlag:b domain extension mobileGuid
    type>CommunicationTypeReference value _info
""",
    "ContactNote": """
    id:i contactId:i enteredBy flagged:b text type>NoteTypeReference _info
""",
    "Addition": """
    id:i agreementId:i agreementStatus billCustomer billedQuantity:n cancelledDate:d description
    effectiveDate:d extCost:n extPrice:n extendedProrateCost:n extendedProratePrice:n invoiceDescription
    invoiceGrouping>InvoiceGroupingReference lessIncluded:n margin:n opportunity>OpportunityReference
    product>IvItemReference prorateCost:n prorateCurrentPeriodFlag:b proratePrice:n purchaseItemFlag:b
    quantity:n sequenceNumber:i serialNumber specialOrderFlag:b taxableFlag:b unitCost:n unitPrice:n uom
    _info customFields
""",
    "Agreement.Adjustment": """
    id:i agreementId:i amount:n description effectiveDate:d _info customFields
""",
    "AgreementSite": """
    id:i agreementId:i company>CompanyReference site>SiteReference _info customFields
""",
    "InvoicePayment": """
    id:i aRPaymentAccount amount:n appliedBy balance:n credit>InvoiceReference glBatchID
    invoice>InvoiceReference invoiceBalance:n invoiceTotal:n paymentAccount paymentDate:d paymentSyncDate:d
    paymentSyncStatus source type wisePayPayment{WisePayPayment} _info
""",
    "WisePayPayment": """
    batchPayment:o feeInvoice:o paymentDateUtc:d wisePayReference
""",
    "ProjectPhase": """
    id:i actualEnd:d actualHours:n actualStart:d agreement>AgreementReference billExpenses
    billPhaseClosedFlag:b billProducts billProjectClosedFlag:b billSeparatelyFlag:b billTime
    billToCompany>CompanyReference billToContact>ContactReference billToSite>SiteReference billingMethod
    billingStartDate:d billingTerms>BillingTermsReference board>ProjectBoardReference budgetHours:n
    businessUnitId:i currency>CurrencyReference deadlineDate:d department>BillingUnitReference description
    downpayment:n endDate:d estimatedExpenseCost:n estimatedExpenseRevenue:n estimatedProductCost:n
    estimatedProductRevenue:n estimatedTimeCost:n estimatedTimeRevenue:n hourlyRate:n locationId:i
    markAsMilestoneFlag:b notes opportunity>OpportunityReference parentPhase>ProjectPhaseReference
    poAmount:n poNumber projectId:i scheduledEnd:d scheduledHours:n scheduledStart:d
    shipToCompany>CompanyReference shipToContact>ContactReference shipToSite>SiteReference startDate:d
    status>PhaseStatusReference taxCode>TaxCodeReference wbsCode _info customFields
""",
    "ProjectTeamMember": """
    id:i endDate:d hours:n member>MemberReference projectId:i projectRole>ProjectRoleReference startDate:d
    workRole>WorkRoleReference _info
""",
    "ProjectNote": """
    id:i flagged:b projectId:i text type>NoteTypeReference _info
""",
    "TicketNote": """
    id:i contact>ContactReference customerUpdatedFlag:b detailDescriptionFlag:b externalFlag:b
    internalAnalysisFlag:b internalFlag:b issueFlag:b member>MemberReference processNotifications:b
    resolutionFlag:b text ticketId:i _info
""",
    "PurchaseOrderLineItem": """
    id:i backorderedFlag:b batchedFlag:b canceledBy canceledFlag:b canceledReason closedFlag:b
    dateCanceled:d dateCanceledUtc:d dateReceived:d description displayInternalNotesFlag:b
    expectedArrivalDate:d expectedShipDate:d extCost:n internalNotes isDetachAvailable:b lineNumber:i
    packingSlip product>IvItemReference purchaseOrderId:i purchaseOrderNumber quantity:n receivedQuantity:n
    receivedStatus salesOrder>SalesOrderReference[] serialNumbers shipDate:d shipSet
    shipmentMethod>ShipmentMethodReference tax:n trackingNumber unbatchedRecId:i unitCost:n
    unitOfMeasure>UnitOfMeasureReference vendorOrderNumber vendorSku warehouse>WarehouseReference
    warehouseBin>WarehouseBinReference _info customFields
""",
    "Forecast": """
    id:i agreementRevenue>AgreementRevenueReference billingTerms>BillingTermsReference
    currency>CurrencyReference expectedProbability:n expenseRevenue>ExpenseRevenueReference
    forecastItems{ForecastItem}[] forecastRevenueTotals>ForecastRevenueReference forecastTotalWithTaxes:n
    inclusiveRevenueTotals>InclusiveRevenueReference lostRevenue>LostRevenueReference
    openRevenue>OpenRevenueReference otherRevenue1>Other1RevenueReference
    otherRevenue2>Other2RevenueReference productRevenue>ProductRevenueReference recurringTotal:n
    salesTaxRevenue:n serviceRevenue>ServiceRevenueReference taxCode>TaxCodeReference
    timeRevenue>TimeRevenueReference wonRevenue>WonRevenueReference _info
""",
    "ForecastItem": """
    _info billCycle>BillingCycleReference catalogItem>IvItemReference cost:n cycleBasis cycles:n
    forecastDescription forecastType id:i includeFlag:b linkFlag:b margin:n opportunity>OpportunityReference
    percentage:n productClass productDescription quantity:n quoteWerksDocName quoteWerksDocNo
    quoteWerksQuantity:n recurringCost:n recurringDateEnd:d recurringDateStart:d recurringFlag:b
    recurringRevenue:n revenue:n sequenceNumber:i status>OpportunityStatusReference subNumber:i
    taxableFlag:b
""",
    "OpportunityNote": """
    id:i enteredBy flagged:b mobileGuid opportunityId:i text type>NoteTypeReference _info
""",
    "SalesOrdersLineItem": """
    id:i billStatus purchaseOrderNumber quantity:n quantityCancelled:n salesOrder>SalesOrderReference _info
""",
    "MemberSkill": """
    id:i certifiedFlag:b member>MemberReference notes skill>SkillReference skillLevel yearsExperience:n
    _info
""",
}

# Reference schema -> (target path, label fields beyond id)
_REFS: dict[str, tuple[str | None, str]] = {
    "ActivityReference": ('sales/activities', "name"),
    "ActivityStatusReference": ('sales/activities/statuses', "name"),
    "ActivityTypeReference": ('sales/activities/types', "name"),
    "AddressFormatReference": (None, "name"),
    "AdjustmentReference": (None, "name"),
    "AdjustmentTypeReference": (None, "identifier"),
    "AgreementReference": ('finance/agreements', "chargeFirmFlag:b name type"),
    "AgreementRevenueReference": (None, "cost:n margin:n percentage:n revenue:n"),
    "AgreementTypeReference": ('finance/agreements/types', "name"),
    "BatchReference": (None, "name"),
    "BillingCycleReference": ('finance/billingCycles', "name"),
    "BillingDeliveryReference": ('finance/deliveryMethods', "name"),
    "BillingSetupReference": (None, "name"),
    "BillingStatusReference": ('finance/billingStatuses', "isClosed:b name"),
    "BillingTermsReference": ('finance/billingTerms', "name"),
    "BillingUnitReference": (None, "name"),
    "BoardReference": ('service/boards', "name"),
    "CalendarReference": ('schedule/calendars', "name"),
    "CampaignReference": ('marketing/campaigns', "name"),
    "CampaignStatusReference": ('marketing/campaigns/statuses', "name"),
    "CampaignSubTypeReference": (None, "name"),
    "CampaignTypeReference": ('marketing/campaigns/types', "name"),
    "CatalogItemReference": ('procurement/catalog', "identifier name"),
    "ChargeCodeReference": (None, "name"),
    "ClassificationReference": ('expense/classifications', "name"),
    "CommunicationTypeReference": ('company/communicationTypes', "coreEntityId name"),
    "CompanyReference": ('company/companies', "identifier name"),
    "CompanyStatusReference": ('company/companies/statuses', "name"),
    "CompanyTypeReference": ('company/companies/types', "name"),
    "ConfigurationStatusReference": ('company/configurations/statuses', "name"),
    "ConfigurationTypeReference": ('company/configurations/types', "name"),
    "ContactDepartmentReference": ('company/contacts/departments', "name"),
    "ContactReference": ('company/contacts', "name"),
    "ContactTypeReference": ('company/contacts/types', "name"),
    "CorporateStructureLevelReference": (None, "name"),
    "CountryReference": ('company/countries', "identifier name"),
    "CurrencyCodeReference": (None, "name"),
    "CurrencyReference": ('finance/currencies', "currencyCode currencyIdentifier decimalSeparator displayIdFlag:b displaySymbolFlag:b name negativeParenthesesFlag:b numberOfDecimals:i rightAlign:b symbol thousandsSeparator"),
    "DirectionalSyncReference": (None, "name"),
    "DocumentReference": (None, "name"),
    "EmailTemplateReference": (None, "name"),
    "EntityTypeReference": (None, "name"),
    "ExpenseReportReference": ('expense/reports', "name"),
    "ExpenseRevenueReference": (None, "cost:n margin:n percentage:n revenue:n"),
    "ExpenseTaxTypeReference": (None, "name"),
    "ExpenseTypeReference": ('expense/types', "name"),
    "ForecastRevenueReference": (None, "cost:n margin:n percentage:n revenue:n"),
    "GenericIdIdentifierReference": (None, "identifier name"),
    "GroupReference": ('marketing/groups', "name"),
    "HolidayListReference": ('schedule/holidayLists', "name"),
    "InclusiveRevenueReference": (None, "cost:n margin:n percentage:n revenue:n"),
    "InvoiceGroupingReference": (None, "description groupParentChildAdditionsFlag:b name showPriceFlag:b showSubItemsFlag:b"),
    "InvoiceReference": ('finance/invoices', "applyToType billingType chargeFirmFlag:b identifier invoiceDate:d"),
    "InvoiceTemplateDetailReference": (None, "name"),
    "InvoiceTemplateReference": (None, "name"),
    "IvItemReference": ('procurement/catalog', "identifier serializedFlag:b"),
    "LdapConfigurationReference": (None, "name server"),
    "LostRevenueReference": (None, "cost:n margin:n percentage:n revenue:n"),
    "ManufacturerReference": ('procurement/manufacturers', "name"),
    "MappedRecordReference": (None, "name"),
    "MappedTypeReference": (None, "name"),
    "MarketDescriptionReference": ('company/marketDescriptions', "name"),
    "MemberReference": ('system/members', "dailyCapacity:n identifier name"),
    "MemberSsoSettingsReference": (None, "email ssoUserId userName"),
    "MemberTypeReference": ('system/members/types', "name"),
    "NoteTypeReference": (None, "name"),
    "OpenRevenueReference": (None, "cost:n margin:n percentage:n revenue:n"),
    "OpportunityPriorityReference": (None, "name"),
    "OpportunityProbabilityReference": ('sales/probabilities', "name"),
    "OpportunityRatingReference": ('sales/opportunities/ratings', "name"),
    "OpportunityReference": ('sales/opportunities', "name"),
    "OpportunityStageReference": ('sales/stages', "name"),
    "OpportunityStatusReference": ('sales/opportunities/statuses', "name"),
    "OpportunityTypeReference": ('sales/opportunities/types', "name"),
    "OrderStatusEmailTemplateReference": (None, "name"),
    "OrderStatusReference": ('sales/orders/statuses', "name"),
    "Other1RevenueReference": (None, "cost:n margin:n percentage:n revenue:n"),
    "Other2RevenueReference": (None, "cost:n margin:n percentage:n revenue:n"),
    "OwnerLevelReference": (None, "name"),
    "OwnershipTypeReference": ('company/ownershipTypes', "name"),
    "PaymentMethodReference": ('expense/paymentTypes', "name"),
    "PhaseStatusReference": ('project/phaseStatuses', "name"),
    "PricingScheduleReference": (None, "name"),
    "PriorityReference": ('service/priorities', "level name sort:i"),
    "ProductCategoryReference": ('procurement/categories', "name"),
    "ProductRevenueReference": (None, "cost:n margin:n percentage:n revenue:n"),
    "ProductSubCategoryReference": ('procurement/subcategories', "name"),
    "ProductTypeReference": ('procurement/types', "name"),
    "ProjectBoardReference": ('service/boards', "name"),
    "ProjectPhaseReference": ('project/projects/{parentId}/phases', "name"),
    "ProjectReference": ('project/projects', "name"),
    "ProjectRoleReference": ('project/securityRoles', "identifier"),
    "ProjectStatusReference": ('project/statuses', "name"),
    "ProjectTypeReference": ('project/projectTypes', "name"),
    "PurchaseOrderStatusEmailTemplateReference": (None, "name"),
    "PurchaseOrderStatusReference": ('procurement/purchaseorderstatuses', "name"),
    "RelationshipReference": ('company/contacts/relationships', "name"),
    "ReminderReference": (None, "name"),
    "ReportCardReference": ('system/reportCards', "name"),
    "SLAReference": ('service/SLAs', "name"),
    "SalesOrderReference": ('sales/orders', "identifier"),
    "ScheduleEntryReference": (None, "description"),
    "ScheduleSpanReference": (None, "identifier"),
    "ScheduleStatusReference": ('schedule/statuses', "name"),
    "ScheduleTypeReference": ('schedule/types', "identifier"),
    "SecurityRoleReference": ('system/securityroles', "name"),
    "ServiceCodeReference": ('service/codes', "name"),
    "ServiceEmailTemplateReference": (None, "identifier name type"),
    "ServiceItemReference": ('service/boards/{parentId}/items', "name"),
    "ServiceLocationReference": ('service/locations', "name"),
    "ServiceRevenueReference": (None, "cost:n margin:n percentage:n revenue:n"),
    "ServiceSignoffReference": (None, "name"),
    "ServiceSourceReference": ('service/sources', "name"),
    "ServiceStatusReference": ('service/boards/{parentId}/statuses', "name sort:i"),
    "ServiceSubTypeReference": ('service/boards/{parentId}/subtypes', "name"),
    "ServiceTeamReference": ('service/boards/{parentId}/teams', "name"),
    "ServiceTypeReference": ('service/boards/{parentId}/types', "name"),
    "ShipmentMethodReference": ('procurement/shipmentmethods', "name"),
    "SicCodeReference": (None, "name"),
    "SiteReference": ('company/companies/{parentId}/sites', "name"),
    "SkillCategoryReference": (None, "name"),
    "SkillReference": ('system/skills', "name"),
    "StateReference": ('company/states', "identifier name"),
    "StatusIndicatorReference": (None, "identifier name"),
    "StructureReference": (None, "name"),
    "SystemDepartmentReference": ('system/departments', "identifier name"),
    "SystemLocationReference": ('system/locations', "name"),
    "TaxCodeReference": ('finance/taxCodes', "name"),
    "TicketReference": ('service/tickets', "summary"),
    "TimeRevenueReference": (None, "cost:n margin:n percentage:n revenue:n"),
    "TimeSheetReference": ('time/sheets', "name"),
    "TimeZoneReference": (None, "name"),
    "TimeZoneSetupReference": ('system/timeZoneSetups', "name"),
    "TrackReference": (None, "name"),
    "UnitOfMeasureReference": ('procurement/unitOfMeasures', "name"),
    "WarehouseBinReference": ('procurement/warehouseBins', "name"),
    "WarehouseReference": ('procurement/warehouses', "lockedFlag:b name"),
    "WonRevenueReference": (None, "cost:n margin:n percentage:n revenue:n"),
    "WorkRoleReference": ('time/workRoles', "name"),
    "WorkTypeReference": ('time/workTypes', "name utilizationFlag:b"),
    "WorkflowTableTypeReference": (None, "identifier name"),
}
# fmt: on

_KINDS = {"": STRING, "i": INT, "n": NUMBER, "b": BOOL, "d": DATETIME, "a": ARRAY, "o": OBJECT}
_INFO_BASE = {"lastUpdated": DATETIME, "updatedBy": STRING}
_INFO_ENTERED = {"dateEntered": DATETIME, "enteredBy": STRING}


def _info_field(entered: bool) -> Field:
    kinds = {**_INFO_BASE, **(_INFO_ENTERED if entered else {})}
    return Field(
        "_info",
        INFO,
        children={k: Field(k, v, read_only=True) for k, v in kinds.items()},
        read_only=True,
    )


def _ref_children(ref: str) -> dict[str, Field]:
    labels = _REFS[ref][1].split()
    out = {"id": Field("id", INT)}
    for token in labels:
        name, _, kind = token.partition(":")
        out[name] = Field(name, _KINDS[kind])
    out["_info"] = Field("_info", INFO, read_only=True)
    return out


def _parse(token: str, *, nested: bool = False) -> Field:
    """One ``name:kind`` / ``name>Ref`` / ``name{Model}`` token as a :class:`Field`."""
    if token == "_info":
        return _info_field(False)
    if token == "customFields":
        return Field("customFields", CUSTOM_FIELDS)
    if ">" in token:
        name, ref = token.split(">")
        many = ref.endswith("[]")
        ref = ref.removesuffix("[]")
        target = _REFS[ref][0]
        return Field(name, ARRAY if many else REF, target=target, children=_ref_children(ref))
    if "{" in token:
        name, rest = token.split("{")
        model, _, tail = rest.partition("}")
        children = (
            {}
            if nested
            else {f.name: f for f in map(lambda t: _parse(t, nested=True), _MODELS[model].split())}
        )
        return Field(name, ARRAY if tail == "[]" else OBJECT, children=children)
    name, _, kind = token.partition(":")
    return Field(name, _KINDS[kind], read_only=name == "id")


def model_fields(model: str) -> dict[str, Field]:
    """The fields of a spec model, in the order records carry them."""
    fields = {f.name: f for f in map(_parse, _MODELS[model].split())}
    if "_info" in fields:
        # Models that carry their own creation stamp at top level (notes' dateCreated,
        # time entries' dateEntered) have only lastUpdated/updatedBy in _info.
        entered = "dateCreated" not in fields and "dateEntered" not in fields
        fields["_info"] = _info_field(entered)
    return fields


# -- what references to a collection carry --------------------------------------------
_LABELS: dict[str, tuple[str, ...]] = {
    "company/companies": ("identifier", "name"),
    "system/members": ("identifier", "name"),
    "system/departments": ("identifier", "name"),
    "company/countries": ("identifier", "name"),
    "company/states": ("identifier", "name"),
    "service/priorities": ("name", "sort"),
    "service/boards/{parentId}/statuses": ("name", "sort"),
    "service/tickets": ("summary",),
    "project/tickets": ("summary",),
    "finance/invoices": ("identifier",),
    "sales/orders": ("identifier",),
    "procurement/catalog": ("identifier", "name"),
    "schedule/types": ("identifier", "name"),
    "finance/currencies": (
        "symbol",
        "currencyCode",
        "decimalSeparator",
        "numberOfDecimals",
        "thousandsSeparator",
        "negativeParenthesesFlag",
        "displaySymbolFlag",
        "currencyIdentifier",
        "displayIdFlag",
        "rightAlign",
        "name",
    ),
}
# Where a label comes from when the model has no property of that name.
_LABEL_SOURCE = {
    "sort": ("sortOrder",),
    "identifier": ("invoiceNumber", "countryCode", "poNumber"),
    "currencyCode": ("currencyIdentifier",),
}

# Irregular ``<x>_href`` keys (the default is the singular of the last path segment).
_HREF: dict[str, str] = {
    "service/SLAs": "sla",
    "service/boards/{parentId}/subtypes": "subType",
    "service/locations": "location",
    "service/knowledgeBaseArticles": "knowledgeBaseArticle",
    "company/companies/statuses": "status",
    "company/companies/types": "type",
    "company/contacts/types": "type",
    "company/contacts/departments": "department",
    "company/contacts/relationships": "relationship",
    "company/configurations/types": "type",
    "company/configurations/statuses": "status",
    "configurations/types/info": "configurationType",
    "finance/agreements/types": "type",
    "finance/currencies": "currency",
    "finance/billingTerms": "billingTerms",
    "time/sheets": "timeSheet",
    "sales/opportunities/statuses": "status",
    "sales/opportunities/types": "type",
    "sales/opportunities/ratings": "rating",
    "sales/activities/statuses": "status",
    "sales/activities/types": "type",
    "sales/orders/statuses": "status",
    "sales/probabilities": "probability",
    "procurement/catalog": "catalogItem",
    "procurement/purchaseorders": "purchaseOrder",
    "procurement/purchaseorderstatuses": "status",
    "procurement/shipmentmethods": "shipmentMethod",
    "procurement/subcategories": "subcategory",
    "procurement/categories": "category",
    "procurement/types": "type",
    "marketing/campaigns/types": "type",
    "marketing/campaigns/statuses": "status",
    "system/securityroles": "securityRole",
    "system/members/types": "type",
    "project/statuses": "status",
    "project/projectTypes": "projectType",
    "project/securityRoles": "projectRole",
    "procurement/purchaseorders/{parentId}/lineitems": "lineItem",
    "sales/orders/{parentId}/lineitems": "lineItem",
    "finance/invoices/{parentId}/payments": "payment",
    "time/entries": "timeEntry",
    "schedule/entries": "scheduleEntry",
    "expense/entries": "expenseEntry",
    "expense/reports": "expenseReport",
    "sales/opportunities/{parentId}/forecast": "forecast",
}

_CALLBACKS = {
    "service/tickets": "Ticket",
    "project/tickets": "Ticket",
    "company/companies": "Company",
    "company/contacts": "Contact",
    "project/projects": "Project",
    "sales/opportunities": "Opportunity",
    "sales/activities": "Activity",
    "finance/invoices": "Invoice",
    "company/configurations": "Configuration",
}

# Custom fields defined per model: "Caption:Type[:EntryMethod[:decimals]]" separated by "|".
# "Seats" is a Text field whose values are numbers on some records and text on others,
# on both tickets and companies.
_CUSTOM: dict[str, str] = {
    "Ticket": "Seats:Text|Dispatch Billing Required:Text:List|Business App Assigned:Date:Date"
    "|T&M Billing Required:Checkbox|Escalation Score:Number:EntryField:2",
    "ProjectTicket": "Dispatch Billing Required:Text:List|Go-Live Date:Date:Date|Billable Milestone:Checkbox",
    "Company": "Seats:Text|Partner ID:Text|Customer Activation Date:Date:Date|TTMS Monitoring:Checkbox"
    "|Key Count:Number",
    "Contact": "Preferred Language:Text:List|VIP:Checkbox|Portal Invite Sent:Date:Date",
    "Company.Configuration": "Asset Tag:Text|Warranty Vendor:Text:List|Monitored:Checkbox|RAM (GB):Number",
    "TimeEntry": "Travel Minutes:Number|Onsite:Checkbox|Reference:Text",
    "Agreement": "Renewal Owner:Text|Auto Renew:Checkbox|Signed Date:Date:Date|Discount %:Percent:EntryField:1",
    "Invoice": "PO Required:Checkbox|Collections Note:Text|Promise Date:Date:Date",
    "Project": "Sponsor:Text|Go-Live Date:Date:Date|Health Score:Number|Fixed Bid:Checkbox",
    "Opportunity": "Lead Score:Number|Competitor:Text:List|Decision Date:Date:Date|Partner Sourced:Checkbox",
    "Activity": "Follow Up:Checkbox|Meeting Link:Hyperlink|Outcome:Text:List",
}
_CUSTOM_DEFAULT = "Legacy ID:Text|Reviewed:Checkbox|Review Date:Date:Date"


def _custom_defs() -> dict[str, tuple[CustomFieldDef, ...]]:
    out: dict[str, tuple[CustomFieldDef, ...]] = {}
    next_id = 7
    for model, spec in {**_CUSTOM, "*": _CUSTOM_DEFAULT}.items():
        defs = []
        for item in spec.split("|"):
            caption, type_, *rest = item.split(":")
            method = rest[0] if rest else "EntryField"
            decimals = int(rest[1]) if len(rest) > 1 else 0
            defs.append(CustomFieldDef(next_id, caption, type_, method, decimals))
            next_id += 1 + (next_id % 3)  # ids with gaps, like a real screen's
        out[model] = tuple(defs)
    return out


_CUSTOM_DEFS = _custom_defs()


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "uses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _href_key(path: str) -> str:
    if path in _HREF:
        return _HREF[path]
    last = [p for p in path.split("/") if not p.startswith("{")][-1]
    word = _singular(last)
    return word[0].lower() + word[1:]


def _r(
    path: str,
    model: str,
    *,
    pf: str | None = None,
    req: str = "",
    ro: bool = False,
    count: bool = True,
    forward: bool = True,
) -> Resource:
    fields = model_fields(model)
    parent = None
    if "{parentId}" in path:
        parent = path[: path.index("/{parentId}")]
    module = path.split("/", 1)[0]
    custom = ()
    if "customFields" in fields:
        custom = _CUSTOM_DEFS.get(model, _CUSTOM_DEFS["*"])
    return Resource(
        path=path,
        model=model,
        fields=fields,
        parent=parent,
        parent_field=pf,
        ref_labels=_LABELS.get(path, ("name",)),
        href_key=f"{_href_key(path)}_href",
        custom_fields=custom,
        required=tuple(req.split()),
        forward_only=forward,
        writable=not ro,
        has_count=count,
        callback_type=_CALLBACKS.get(path),
        security_module="companies" if module == "company" else module,
    )


# fmt: off
RESOURCES: tuple[Resource, ...] = (
    _r("service/tickets", "Ticket", req="summary company"),
    _r("service/boards", "Board", req="name location department"),
    _r("service/priorities", "Priority", req="name color"),
    _r("service/SLAs", "SLA", req="name basedOn"),
    _r("service/sources", "Source", req="name"),
    _r("service/impacts", "Impact", req="description", ro=True),
    _r("service/severities", "Severity", req="description", ro=True),
    _r("service/locations", "ServiceLocation", req="name where"),
    _r("service/teams", "ServiceTeam", ro=True),
    _r("service/templates", "ServiceTemplate", ro=True),
    _r("service/codes", "Code", req="name description"),
    _r("service/surveys", "ServiceSurvey", req="name"),
    _r("service/knowledgeBaseArticles", "KnowledgeBaseArticle", req="title issue resolution"),
    _r("service/knowledgeBaseCategories", "KnowledgeBaseCategory", req="name"),
    _r("company/companies", "Company", req="identifier name"),
    _r("company/contacts", "Contact", req="firstName"),
    _r("company/configurations", "Company.Configuration", req="name type company"),
    _r("company/configurations/types", "ConfigurationType", req="name"),
    _r("company/configurations/statuses", "ConfigurationStatus", req="description"),
    _r("company/companies/statuses", "CompanyStatus", req="name"),
    _r("company/companies/types", "CompanyType", req="name"),
    _r("company/contacts/types", "ContactType", req="description"),
    _r("company/contacts/departments", "ContactDepartment", req="name"),
    _r("company/contacts/relationships", "ContactRelationship", req="name"),
    _r("company/countries", "Country", req="name currency"),
    _r("company/states", "State", req="identifier name country"),
    _r("company/teamRoles", "TeamRole", req="name"),
    _r("company/noteTypes", "CompanyNoteType", req="name"),
    _r("company/communicationTypes", "CommunicationType", req="description"),
    _r("company/marketDescriptions", "MarketDescription", req="name"),
    _r("company/ownershipTypes", "OwnershipType", req="name"),
    _r("company/entityTypes", "EntityType", ro=True),
    _r("configurations/types/info", "ConfigurationTypeInfo", ro=True),
    _r("time/entries", "TimeEntry", req="timeStart"),
    _r("time/sheets", "TimeSheet", ro=True),
    _r("time/workTypes", "WorkType", req="name billTime rateType rate"),
    _r("time/workRoles", "WorkRole", req="name"),
    _r("time/chargeCodes", "ChargeCode", req="name company"),
    _r("time/accruals", "TimeAccrual"),
    _r("time/timePeriodSetups", "TimePeriodSetup", req="periodApplyTo year numberFuturePeriods type"),
    _r("schedule/entries", "ScheduleEntry", req="type"),
    _r("schedule/types", "ScheduleType", req="name identifier"),
    _r("schedule/statuses", "ScheduleStatus", req="name"),
    _r("schedule/calendars", "Calendar", req="name"),
    _r("schedule/holidayLists", "HolidayList", req="name"),
    _r("schedule/colors", "ScheduleColor", req="color", ro=True),
    _r("finance/agreements", "Agreement", req="name type company contact"),
    _r("finance/agreements/types", "AgreementType", req="name employeeCompRate employeeCompNotExceed invoicingCycle"),
    _r("finance/invoices", "Invoice", req="type company"),
    _r("finance/billingCycles", "BillingCycle", req="identifier name billingOptions"),
    _r("finance/billingStatuses", "BillingStatus", req="name"),
    _r("finance/billingTerms", "BillingTerm", req="name dueDays"),
    _r("finance/currencies", "Finance.Currency", req="currencyIdentifier name"),
    _r("finance/glAccounts", "GLAccount", req="glType mappedType mappedRecord"),
    _r("finance/taxCodes", "TaxCode", req="identifier description invoiceCaption effectiveDate"),
    _r("finance/deliveryMethods", "DeliveryMethod", req="name"),
    _r("finance/accountingPackages", "AccountingPackage", ro=True),
    _r("expense/entries", "ExpenseEntry", req="type amount date"),
    _r("expense/reports", "ExpenseReport", ro=True),
    _r("expense/types", "ExpenseType", req="name amountCaption billExpenses invoiceMarkupOption"),
    _r("expense/classifications", "Classification", ro=True),
    _r("expense/paymentTypes", "PaymentType", req="name classification"),
    _r("project/projects", "Project", req="billingMethod board company estimatedEnd"),
    _r("project/tickets", "ProjectTicket", req="summary phase"),
    _r("project/projectTypes", "ProjectType", req="name"),
    _r("project/statuses", "ProjectStatus", req="name"),
    _r("project/phaseStatuses", "PhaseStatus", req="name"),
    _r("project/securityRoles", "ProjectSecurityRole", req="name"),
    _r("sales/opportunities", "Opportunity", req="name primarySalesRep company contact"),
    _r("sales/opportunities/statuses", "OpportunityStatus", req="name"),
    _r("sales/opportunities/types", "OpportunityType", req="description"),
    _r("sales/opportunities/ratings", "OpportunityRating", req="name"),
    _r("sales/activities", "Activity", req="name assignTo"),
    _r("sales/activities/statuses", "ActivityStatus", req="name"),
    _r("sales/activities/types", "ActivityType", req="name"),
    _r("sales/orders", "Order", req="company status salesRep"),
    _r("sales/orders/statuses", "OrderStatus", req="name"),
    _r("sales/probabilities", "SalesProbability", req="probability"),
    _r("sales/stages", "OpportunityStage", req="name"),
    _r("sales/roles", "Role", req="name"),
    _r("sales/quotas", "SalesQuota", req="member location"),
    _r("sales/salesTeams", "SalesTeam", req="salesTeamIdentifier salesTeamDescription salesTeamLocation"),
    _r("procurement/products", "ProductItem", req="catalogItem billableOption"),
    _r("procurement/purchaseorders", "PurchaseOrder", req="status terms vendorCompany"),
    _r("procurement/purchaseorderstatuses", "PurchaseOrderStatus", req="name"),
    _r("procurement/catalog", "CatalogItem", req="identifier description subcategory type"),
    _r("procurement/categories", "Category", req="name"),
    _r("procurement/subcategories", "SubCategory", req="name category", count=False),
    _r("procurement/manufacturers", "Manufacturer", req="name"),
    _r("procurement/types", "ProductType", req="name"),
    _r("procurement/warehouses", "Warehouse", req="name location department"),
    _r("procurement/warehouseBins", "WarehouseBin", req="name warehouse"),
    _r("procurement/shipmentmethods", "ShipmentMethod", req="name"),
    _r("procurement/unitOfMeasures", "UnitOfMeasure", req="name"),
    _r("procurement/adjustments", "ProcurementAdjustment", req="identifier type"),
    _r("marketing/campaigns", "Campaign", req="name type subType startDate"),
    _r("marketing/groups", "Group", req="name"),
    _r("marketing/campaigns/types", "CampaignType", req="name"),
    _r("marketing/campaigns/statuses", "CampaignStatus", req="name"),
    _r("system/members", "Member", req="identifier licenseClass firstName lastName"),
    _r("system/departments", "Department", req="identifier name"),
    _r("system/locations", "Location", req="structureLevel name"),
    _r("system/callbacks", "CallbackEntry", req="url objectId type level"),
    _r("system/securityroles", "SecurityRole", req="name"),
    _r("system/userDefinedFields", "UserDefinedField", req="podId caption sequenceNumber fieldTypeIdentifier"),
    _r("system/workflows", "Workflow", req="name tableType"),
    _r("system/surveys", "Survey", req="name"),
    _r("system/standardNotes", "StandardNote", req="name contents"),
    _r("system/skills", "Skill", req="name category"),
    _r("system/skillCategories", "SkillCategory", req="name"),
    _r("system/certifications", "Certification", req="name company"),
    _r("system/members/types", "MemberType", req="name"),
    _r("system/apiMembers", "ApiMember", req="identifier"),
    _r("system/reportCards", "ReportCard", req="name"),
    _r("system/timeZoneSetups", "TimeZoneSetup", req="name timeZone"),
    _r("system/kpiCategories", "KPICategory", ro=True),
    _r("service/tickets/{parentId}/notes", "ServiceNote", pf='ticketId'),
    _r("service/tickets/{parentId}/tasks", "ServiceTask", pf='ticketId'),
    _r("service/boards/{parentId}/statuses", "BoardStatus", pf='board', req="name"),
    _r("service/boards/{parentId}/types", "BoardType", pf='board', req="name"),
    _r("service/boards/{parentId}/subtypes", "BoardSubType", pf='board', req="name"),
    _r("service/boards/{parentId}/items", "BoardItem", pf='board', req="name"),
    _r("service/boards/{parentId}/teams", "BoardTeam", pf='boardId', req="name teamLeader"),
    _r("company/companies/{parentId}/sites", "CompanySite", pf='company', req="name"),
    _r("company/companies/{parentId}/notes", "CompanyNote", pf='company', req="text"),
    _r("company/contacts/{parentId}/communications", "ContactCommunication", pf='contactId', req="type value"),
    _r("company/contacts/{parentId}/notes", "ContactNote", pf='contactId', req="text"),
    _r("finance/agreements/{parentId}/additions", "Addition", pf='agreementId', req="product billCustomer"),
    _r("finance/agreements/{parentId}/adjustments", "Agreement.Adjustment", pf='agreementId'),
    _r("finance/agreements/{parentId}/sites", "AgreementSite", pf='agreementId', req="company"),
    _r("finance/invoices/{parentId}/payments", "InvoicePayment", pf='invoice', count=False),
    _r("project/projects/{parentId}/phases", "ProjectPhase", pf='projectId', req="description"),
    _r("project/projects/{parentId}/teamMembers", "ProjectTeamMember", pf='projectId', req="member projectRole"),
    _r("project/projects/{parentId}/notes", "ProjectNote", pf='projectId', req="text"),
    _r("project/tickets/{parentId}/notes", "TicketNote", pf='ticketId'),
    _r("project/tickets/{parentId}/tasks", "TicketTask", pf='ticketId'),
    _r("procurement/purchaseorders/{parentId}/lineitems", "PurchaseOrderLineItem", pf='purchaseOrderId', req="description lineNumber product quantity"),
    _r("sales/opportunities/{parentId}/forecast", "Forecast", pf=None, forward=False),
    _r("sales/opportunities/{parentId}/notes", "OpportunityNote", pf='opportunityId', req="text"),
    _r("sales/orders/{parentId}/lineitems", "SalesOrdersLineItem", pf='salesOrder', req="salesOrder", count=False),
    _r("system/members/{parentId}/skills", "MemberSkill", pf='member', req="skill skillLevel"),
)
# fmt: on

BY_PATH: dict[str, Resource] = {r.path: r for r in RESOURCES}

# Per resource: (key, child path with "{id}" where the parent's id goes) for _info hrefs.
_CHILD_HREFS: dict[str, tuple[tuple[str, str, str], ...]] = {
    r.path: tuple(
        (
            f"{c.path.rsplit('/', 1)[1]}_href",
            f"{BASE_PLACEHOLDER}/{c.path.split('{parentId}')[0]}",
            c.path.split("{parentId}")[1],
        )
        for c in RESOURCES
        if c.parent == r.path
    )
    for r in RESOURCES
}
_ENTERED = {r.path: "dateEntered" in r.fields["_info"].children for r in RESOURCES if r.has_info}


def _label(body: Mapping, label: str) -> object:
    value = body.get(label)
    if value is None:
        for source in _LABEL_SOURCE.get(label, ()):
            value = body.get(source)
            if value is not None:
                break
    if value is None and label in ("name", "identifier", "summary"):
        if "firstName" in body or "lastName" in body:
            value = f"{body.get('firstName', '')} {body.get('lastName', '')}".strip()
        elif "dateStart" in body and "dateEnd" in body:
            value = f"{body['dateStart'][:10]} to {body['dateEnd'][:10]}"
        else:
            for key in (
                "name",
                "description",
                "identifier",
                "summary",
                "caption",
                "salesTeamIdentifier",
            ):
                if isinstance(body.get(key), str):
                    return body[key]
            value = str(body.get("probability", body.get("id", "")))
    if isinstance(value, dict):
        value = value.get("name")
    return value


def reference_href(resource: Resource, id: int, parent_id: int | None = None) -> str:
    """The ``§BASE§/...`` URL of one record (its parent's id filled in)."""
    path = resource.path
    if parent_id is not None and "{parentId}" in path:
        path = path.replace("{parentId}", str(parent_id))
    return f"{BASE_PLACEHOLDER}/{path}/{id}"


def make_reference(resource: Resource, body: Mapping, parent_id: int | None = None) -> dict:
    """The reference object other records embed to point at ``body`` (a record of
    ``resource``): ``{"id", <labels>, "_info": {"<x>_href": ...}}``, nulls omitted."""
    rid = body["id"]
    ref: dict = {"id": rid}
    for label in resource.ref_labels:
        value = _label(body, label)
        if value is not None:
            ref[label] = value
    info = {resource.href_key: reference_href(resource, rid, parent_id)}
    if resource.path == "system/members":
        stamp = (body.get("_info") or {}).get("lastUpdated")
        if stamp:
            info["image_href"] = f"{BASE_PLACEHOLDER}/system/members/{rid}/image?lm={stamp}"
    ref["_info"] = info
    return ref


def make_info(
    resource: Resource,
    id: int,
    parent_id: int | None,
    last_updated: str,
    updated_by: str,
    date_entered: str | None,
    entered_by: str | None,
) -> dict:
    """A record's own ``_info``: stamps, then hrefs of its per-parent child collections."""
    info = {"lastUpdated": last_updated, "updatedBy": updated_by}
    if _ENTERED.get(resource.path, False):
        if date_entered is not None:
            info["dateEntered"] = date_entered
        if entered_by is not None:
            info["enteredBy"] = entered_by
    for key, head, tail in _CHILD_HREFS.get(resource.path, ()):
        info[key] = f"{head}{id}{tail}"
    return info


def custom_field_values(
    defs: tuple[CustomFieldDef, ...] | list[CustomFieldDef], values: Mapping[int, object]
) -> list[dict]:
    """The ``customFields`` array for ``defs`` with ``values`` by definition id
    (``value`` omitted when null, as ConnectWise does)."""
    out = []
    for d in defs:
        item = {
            "id": d.id,
            "caption": d.caption,
            "type": d.type,
            "entryMethod": d.entry_method,
            "numberOfDecimals": d.number_of_decimals,
        }
        value = values.get(d.id)
        if value is not None:
            item["value"] = value
        out.append(item)
    return out
